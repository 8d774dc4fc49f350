import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expandVars } from '../expand-vars.js';
import type { ReplicaState, RevisionSpec, RevisionTarget, RuntimeDriver } from '../types.js';

export interface ProcessDriverOptions {
  /** Replicas get working directories and log files under here. */
  dir: string;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** Consecutive failed probes that take a ready replica out of rotation. */
  failureThreshold?: number;
  /** First restart delay after a crash; doubles per crash up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Runs each replica as a child process of Gantry: `command` + `args` with `$(VAR)` expanded,
 * in its own working directory, listening on a free port given in PORT (the deployment's
 * `port` is the container port; here the host port is chosen per replica). Ready once its
 * health path answers 200 (or once started, without a path). A crashed replica restarts with
 * exponential backoff and shows Waiting / CrashLoopBackOff meanwhile.
 */
export class ProcessDriver implements RuntimeDriver {
  readonly kind = 'process' as const;
  private readonly replicas = new Map<string, Replica>();
  private readonly listeners: ((deploymentId: string) => void)[] = [];
  private seq = 0;
  private closed = false;

  constructor(private readonly opts: ProcessDriverOptions) {}

  onChange(listener: (deploymentId: string) => void) {
    this.listeners.push(listener);
  }

  observe(deploymentId: string): ReplicaState[] {
    return [...this.replicas.values()].filter((r) => r.spec.deploymentId === deploymentId).map((r) => r.state());
  }

  async apply(deploymentId: string, targets: RevisionTarget[]): Promise<void> {
    if (this.closed) throw new Error('the process runtime is shut down');
    const mine = [...this.replicas.values()].filter((r) => r.spec.deploymentId === deploymentId && !r.stopping);
    const stops: Promise<void>[] = [];
    for (const r of mine) {
      const target = targets.find((t) => t.revision.revisionId === r.spec.revisionId);
      if (!target) stops.push(this.stop(r));
    }
    for (const t of targets) {
      const running = mine.filter((r) => r.spec.revisionId === t.revision.revisionId);
      // Keep ready replicas; scale down the ones not serving yet first.
      const surplus = running.sort((a, b) => Number(!a.readySince) - Number(!b.readySince)).slice(t.replicas);
      for (const r of surplus) stops.push(this.stop(r));
      for (let i = running.length; i < t.replicas; i++) this.start(t.revision);
    }
    this.emit(deploymentId);
    await Promise.all(stops);
  }

  async close() {
    this.closed = true;
    await Promise.all([...this.replicas.values()].map((r) => this.stop(r)));
  }

  private emit(deploymentId: string) {
    for (const l of this.listeners) l(deploymentId);
  }

  private start(spec: RevisionSpec) {
    const id = `${spec.deploymentName}-${spec.revisionId.slice(-8)}-${(++this.seq).toString(36)}`;
    const r = new Replica(id, spec, join(this.opts.dir, id), this.opts, () => this.emit(spec.deploymentId));
    this.replicas.set(id, r);
    void r.run();
  }

  private async stop(r: Replica) {
    await r.stop();
    this.replicas.delete(r.id);
    this.emit(r.spec.deploymentId);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

class Replica {
  status: ReplicaState['status'] = 'Waiting';
  reason = 'ContainerCreating';
  message = '';
  readySince: string | null = null;
  port: number | null = null;
  restarts = 0;
  stopping = false;
  private child: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private log: WriteStream | null = null;

  constructor(
    readonly id: string,
    readonly spec: RevisionSpec,
    private readonly dir: string,
    private readonly opts: ProcessDriverOptions,
    private readonly changed: () => void,
  ) {}

  state(): ReplicaState {
    return {
      id: this.id,
      deploymentId: this.spec.deploymentId,
      revisionId: this.spec.revisionId,
      image: this.spec.image,
      status: this.status,
      ...(this.reason ? { reason: this.reason } : {}),
      ...(this.message ? { message: this.message } : {}),
      readySince: this.readySince,
      address: this.port ? `127.0.0.1:${this.port}` : null,
      restarts: this.restarts,
    };
  }

  async run() {
    if (this.stopping) return;
    mkdirSync(this.dir, { recursive: true });
    this.log ??= createWriteStream(join(this.dir, 'output.log'), { flags: 'a' });
    this.port = await freePort();
    const env = { ...this.spec.env, PORT: String(this.port) };
    const [cmd, ...rest] = [...this.spec.command, ...this.spec.args].map((a) => expandVars(a, env));
    if (!cmd) return this.fail('InvalidCommand', 'the process runtime needs a command');
    const child = spawn(cmd, rest, { cwd: this.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.pipe(this.log, { end: false });
    child.on('error', (err) => this.exited(`cannot start ${cmd}: ${err.message}`));
    child.on('exit', (code, signal) => this.exited(signal ? `killed by ${signal}` : `exited with code ${code}`));
    this.status = 'Running';
    this.reason = '';
    this.message = '';
    this.changed();
    this.schedule(() => this.probe(), this.spec.healthCheckPath ? this.opts.probeIntervalMs ?? 1000 : 0);
  }

  private schedule(fn: () => void, ms: number) {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(fn, ms);
  }

  private async probe() {
    if (this.stopping || this.status !== 'Running') return;
    let ok = true;
    if (this.spec.healthCheckPath) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.port}${this.spec.healthCheckPath}`, {
          signal: AbortSignal.timeout(this.opts.probeTimeoutMs ?? 1000),
        });
        await res.arrayBuffer();
        ok = res.status === 200;
      } catch {
        ok = false;
      }
    }
    if (this.stopping || this.status !== 'Running') return;
    if (ok) {
      this.failures = 0;
      if (!this.readySince) {
        this.readySince = new Date().toISOString();
        this.changed();
      }
    } else if (this.readySince && ++this.failures >= (this.opts.failureThreshold ?? 3)) {
      this.readySince = null;
      this.message = `health check ${this.spec.healthCheckPath} failed ${this.failures} times`;
      this.changed();
    }
    if (this.spec.healthCheckPath) this.schedule(() => this.probe(), this.opts.probeIntervalMs ?? 1000);
  }

  private exited(how: string) {
    if (this.child === null) return;
    this.child = null;
    this.readySince = null;
    if (this.stopping) return;
    this.restarts++;
    const backoff = Math.min((this.opts.baseBackoffMs ?? 1000) * 2 ** (this.restarts - 1), this.opts.maxBackoffMs ?? 300_000);
    this.status = 'Waiting';
    this.reason = 'CrashLoopBackOff';
    this.message = `${how}; restart ${this.restarts} in ${Math.round(backoff)} ms`;
    this.changed();
    this.schedule(() => void this.run(), backoff);
  }

  private fail(reason: string, message: string) {
    this.status = 'Waiting';
    this.reason = reason;
    this.message = message;
    this.changed();
  }

  /** SIGTERM, then SIGKILL once the grace period is over. */
  async stop() {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), this.spec.terminationGracePeriodSeconds * 1000);
      await gone;
      clearTimeout(kill);
    }
    this.status = 'Terminated';
    this.readySince = null;
    await new Promise<void>((r) => (this.log ? this.log.end(r) : r()));
  }
}
