import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../domain/clock.js';
import { forgetGroup, killLeftoverGroup, recordGroup, signalGroup } from '../runtime/process/process-group.js';

/** The CNCF distribution registry's binary: Debian's package names it docker-registry, upstream registry. */
export function findRegistryBinary(): string | null {
  for (const name of ['docker-registry', 'registry']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return null;
}

export interface RegistryProcessOptions {
  binary: string;
  /** Its config, pid file and data (`<dir>/data`, kept across restarts). */
  dir: string;
  host: string;
  port: number;
  /** distribution's `auth.token` section: realm, service, issuer, rootcertbundle. */
  auth: Record<string, string>;
  /** Signs the registry's upload state; any random string. */
  httpSecret: string;
  clock: Clock;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

const READY_TIMEOUT_MS = 15_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * Runs the registry as Gantry's child, in a process group of its own recorded in `dir`, so a
 * Gantry killed outright has it stopped by the next start (as replicas are). It is restarted
 * with backoff when it exits by itself; `stop` ends it.
 */
export class RegistryProcess {
  private child: ChildProcess | null = null;
  private stopping = false;
  private backoffMs = 1000;

  private constructor(private readonly o: RegistryProcessOptions) {}

  get address() {
    return `${this.o.host}:${this.o.port}`;
  }

  /** Starts it and resolves once it answers on its address; rejects with its own words if it cannot. */
  static async start(o: RegistryProcessOptions): Promise<RegistryProcess> {
    mkdirSync(join(o.dir, 'data'), { recursive: true, mode: 0o700 });
    if (killLeftoverGroup(o.dir)) o.log('stopped the image registry a previous gantry serve left running');
    // JSON is YAML: the registry reads it as its config.yml.
    const config = {
      version: '0.1',
      log: { level: 'error', formatter: 'text', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(o.dir, 'data') }, delete: { enabled: true } },
      http: { addr: `${o.host}:${o.port}`, secret: o.httpSecret, headers: { 'X-Content-Type-Options': ['nosniff'] } },
      auth: { token: o.auth },
    };
    writeFileSync(join(o.dir, 'config.yml'), JSON.stringify(config, null, 2), { mode: 0o600 });
    const registry = new RegistryProcess(o);
    await registry.launch();
    return registry;
  }

  private async launch() {
    const { o } = this;
    const child = spawn(o.binary, ['serve', join(o.dir, 'config.yml')], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
      for (const line of d.split('\n').filter(Boolean)) o.log('image registry: ' + line);
    });
    const exited = new Promise<string>((resolve) => {
      child.on('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code}`));
      // A binary that cannot be started has no exit: its error ends it.
      child.on('error', (err) => resolve(`could not start (${err.message})`));
    });
    if (child.pid) recordGroup(o.dir, child.pid);
    const deadline = o.clock.nowMs() + READY_TIMEOUT_MS;
    while (!(await this.answers())) {
      if (child.exitCode !== null || child.signalCode !== null || !child.pid) {
        throw new Error(`the image registry ${await exited}: ${stderr.trim() || 'no output'}`);
      }
      if (o.clock.nowMs() > deadline) {
        signalGroup(child.pid, 'SIGKILL');
        throw new Error(`the image registry did not answer on ${this.address} within ${READY_TIMEOUT_MS / 1000} s: ${stderr.trim()}`);
      }
      await o.clock.sleep(100);
    }
    this.backoffMs = 1000;
    void exited.then((how) => this.exited(child, how));
  }

  /** Whether the registry serves its API (an unauthenticated /v2/ is its 401 challenge). */
  private async answers() {
    try {
      const res = await fetch(`http://${this.address}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return res.headers.get('docker-distribution-api-version') !== null;
    } catch {
      return false;
    }
  }

  private exited(child: ChildProcess, how: string) {
    if (this.stopping || child !== this.child) return;
    forgetGroup(this.o.dir);
    this.o.log(`the image registry ${how}; restarting it in ${this.backoffMs / 1000} s`);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.o.clock.setTimeout(() => {
      if (this.stopping) return;
      this.launch().catch((err: Error) => {
        this.o.log(err.message);
        this.exited(this.child!, 'could not start');
      });
    }, delay);
  }

  /** Ends the registry (SIGTERM, SIGKILL after 5 s). */
  async stop() {
    this.stopping = true;
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    signalGroup(child.pid, 'SIGTERM');
    const kill = this.o.clock.setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), 5000);
    await gone;
    kill.cancel();
    forgetGroup(this.o.dir);
  }
}
