import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { expandVars } from '../expand-vars.js';
import type { GpuInventory } from '../gpus.js';
import type { ReplicaState, RevisionSpec } from '../types.js';
import { ReplicaLog } from './replica-log.js';

export interface ReplicaOptions {
  /** Probe period once ready. */
  probeIntervalMs: number;
  /** Probe period until first ready: short, so a replica serves as soon as it can. */
  startupProbeMs: number;
  probeTimeoutMs: number;
  failureThreshold: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  logCapBytes: number;
  /** Variables every replica inherits (PATH and the like), below the deployment's own. */
  baseEnv: Record<string, string>;
  gpus: GpuInventory;
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

/**
 * One replica as a child process, with its life cycle: waiting for GPUs (Unschedulable),
 * running (ready once its health path answers 200), crashed and waiting to restart with
 * exponential backoff (CrashLoopBackOff), terminated.
 */
export class Replica {
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
  private log: ReplicaLog | null = null;
  private gpuIndices: number[] | null = null;

  constructor(
    readonly id: string,
    readonly spec: RevisionSpec,
    readonly dir: string,
    private readonly opts: ReplicaOptions,
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
      address: this.port && this.status === 'Running' ? `127.0.0.1:${this.port}` : null,
      restarts: this.restarts,
    };
  }

  get unschedulable() {
    return this.reason === 'Unschedulable';
  }

  /** Starts the process, once it holds the GPUs it needs. */
  async run() {
    if (this.stopping || this.child) return;
    if (!this.gpuIndices) {
      const got = this.opts.gpus.allocate(this.id, this.spec.gpuType, this.spec.gpuCount);
      if ('missing' in got) return this.wait('Unschedulable', got.missing);
      this.gpuIndices = got.indices;
    }
    mkdirSync(this.dir, { recursive: true });
    this.log ??= new ReplicaLog(this.dir, this.opts.logCapBytes);
    this.port = await freePort();
    if (this.stopping) return;
    const env: Record<string, string> = {
      ...this.opts.baseEnv,
      ...this.spec.env,
      PORT: String(this.port),
      // An empty list hides every GPU from CUDA: a CPU-only replica sees none.
      CUDA_VISIBLE_DEVICES: this.gpuIndices.join(','),
    };
    const [cmd, ...args] = [...this.spec.command, ...this.spec.args].map((a) => expandVars(a, env));
    if (!cmd) return this.wait('InvalidCommand', 'the process runtime needs a command');
    const child = spawn(cmd, args, { cwd: this.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => this.log?.write(d));
    child.stderr!.on('data', (d: Buffer) => this.log?.write(d));
    child.on('error', (err) => this.exited(`cannot start ${cmd}: ${err.message}`));
    child.on('exit', (code, signal) => this.exited(signal ? `killed by ${signal}` : `exited with code ${code}`));
    this.status = 'Running';
    this.reason = '';
    this.message = '';
    this.changed();
    this.schedule(() => void this.probe(), this.spec.healthCheckPath ? this.opts.startupProbeMs : 0);
  }

  private wait(reason: string, message: string) {
    this.status = 'Waiting';
    this.reason = reason;
    this.message = message;
    this.changed();
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
          signal: AbortSignal.timeout(this.opts.probeTimeoutMs),
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
        this.message = '';
        this.changed();
      }
    } else if (this.readySince && ++this.failures >= this.opts.failureThreshold) {
      this.readySince = null;
      this.message = `health check ${this.spec.healthCheckPath} failed ${this.failures} times in a row`;
      this.changed();
    }
    if (this.spec.healthCheckPath) {
      this.schedule(() => void this.probe(), this.readySince ? this.opts.probeIntervalMs : this.opts.startupProbeMs);
    }
  }

  private exited(how: string) {
    if (this.child === null) return;
    this.child = null;
    this.readySince = null;
    if (this.stopping) return;
    this.restarts++;
    // As the kubelet does: the first restart is immediate, later ones back off exponentially.
    const backoff = this.restarts === 1 ? 0 : Math.min(this.opts.baseBackoffMs * 2 ** (this.restarts - 2), this.opts.maxBackoffMs);
    this.wait('CrashLoopBackOff', `${how}; restart ${this.restarts} in ${Math.round(backoff)} ms`);
    this.schedule(() => void this.run(), backoff);
  }

  /** SIGTERM, then SIGKILL once the grace period is over; frees the replica's GPUs. */
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
    this.reason = 'Completed';
    this.readySince = null;
    this.opts.gpus.release(this.id);
    this.log?.close();
  }
}
