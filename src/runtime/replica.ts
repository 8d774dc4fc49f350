import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import type { GpuInventory } from './gpus.js';
import { ReplicaLog } from './replica-log.js';
import type { ReplicaState, RevisionSpec } from '../contract/runtime.js';
import type { Clock, Timer } from '../domain/clock.js';
import type { IdSource } from '../domain/ids.js';

/**
 * What runs a replica: a child process or a container. The replica's life cycle (GPUs,
 * probes, restarts with backoff, graceful stop) is shared; only starting and stopping the
 * workload differ between runtimes.
 */
export interface Workload {
  /**
   * Makes the workload run (starting, restarting or re-attaching to it) with these GPUs, its
   * output going to `log`; answers the host:port where it serves. `onExit` is called once when
   * this run ends. Throws StartError when it cannot start.
   */
  start(gpus: number[], log: ReplicaLog, onExit: (how: string) => void): Promise<string>;
  /** SIGTERM, then SIGKILL once the grace period is over; resolves when it is gone for good. */
  stop(graceSeconds: number): Promise<void>;
}

/** Why a workload could not start, as a replica reason (ErrImagePull, …) and a message. */
export class StartError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

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
  gpus: GpuInventory;
  clock: Clock;
  ids: IdSource;
  /** Called before a ready replica is stopped: the gateway takes it out and lets its requests end. */
  beforeStop?: (deploymentId: string, replicaId: string, graceMs: number) => Promise<void>;
  /**
   * Whether this Gantry may start workloads now (it holds the leader lease): a leader that
   * stalled past its lease must not restart a replica before it learns it no longer leads.
   */
  mayStart?: () => boolean;
}

/**
 * One replica and its life cycle: waiting for GPUs (Unschedulable), running (ready once its
 * health path answers 200), crashed and waiting to restart with exponential backoff
 * (CrashLoopBackOff), terminated.
 */
export class Replica {
  status: ReplicaState['status'] = 'Waiting';
  reason = 'ContainerCreating';
  message = '';
  readySince: string | null = null;
  address: string | null = null;
  restarts = 0;
  stopping = false;
  private running = false;
  private starting = false;
  private timer: Timer | null = null;
  private failures = 0;
  private startFailures = 0;
  private log: ReplicaLog | null = null;

  constructor(
    readonly id: string,
    readonly spec: RevisionSpec,
    readonly dir: string,
    private readonly workload: Workload,
    private readonly opts: ReplicaOptions,
    private readonly changed: () => void,
    /** GPUs the workload already holds (an adopted container); allocated on first run otherwise. */
    private gpuIndices: number[] | null = null,
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
      address: this.status === 'Running' ? this.address : null,
      restarts: this.restarts,
    };
  }

  get unschedulable() {
    return this.reason === 'Unschedulable';
  }

  /** Starts the workload, once it holds the GPUs it needs. */
  async run() {
    if (this.stopping || this.running || this.starting || this.opts.mayStart?.() === false) return;
    const got = this.opts.gpus.allocate(this.id, this.spec.gpuType, this.spec.gpuCount, this.gpuIndices ?? undefined);
    if ('missing' in got) return this.wait('Unschedulable', got.missing);
    this.gpuIndices = got.indices;
    mkdirSync(this.dir, { recursive: true });
    // A volume version's directory exists before the replica starts, even while still empty.
    for (const v of this.spec.volumes) mkdirSync(v.hostPath, { recursive: true });
    this.log ??= new ReplicaLog(this.dir, this.opts.logCapBytes);
    this.starting = true;
    let exited: string | null = null;
    try {
      this.address = await this.workload.start(this.gpuIndices, this.log, (how) => {
        if (this.starting) exited = how;
        else this.exited(how);
      });
    } catch (err) {
      this.starting = false;
      if (this.stopping) return;
      const reason = err instanceof StartError ? err.reason : 'StartError';
      const backoff = this.backoff(++this.startFailures);
      this.wait(reason, `${(err as Error).message}; retrying in ${Math.round(backoff)} ms`);
      return this.schedule(() => void this.run(), backoff);
    }
    this.starting = false;
    this.startFailures = 0;
    this.running = true;
    if (exited !== null) return this.exited(exited);
    if (this.stopping) return;
    this.status = 'Running';
    this.reason = '';
    this.message = '';
    this.changed();
    this.schedule(() => void this.probe(), 0);
  }

  private wait(reason: string, message: string) {
    this.status = 'Waiting';
    this.reason = reason;
    this.message = message;
    this.changed();
  }

  private schedule(fn: () => void, ms: number) {
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimeout(fn, ms);
  }

  /** As the kubelet does: the first retry is immediate, later ones back off exponentially. */
  private backoff(attempt: number) {
    return attempt === 1 ? 0 : Math.min(this.opts.baseBackoffMs * 2 ** (attempt - 2), this.opts.maxBackoffMs);
  }

  private async probe() {
    if (this.stopping || this.status !== 'Running') return;
    const ok = await this.healthy();
    if (this.stopping || this.status !== 'Running') return;
    if (ok) {
      this.failures = 0;
      if (!this.readySince) {
        this.readySince = this.opts.clock.now().toISOString();
        this.message = '';
        this.changed();
      }
    } else if (this.readySince && ++this.failures >= this.opts.failureThreshold) {
      this.readySince = null;
      const what = this.spec.healthCheckPath ? `health check ${this.spec.healthCheckPath}` : 'TCP check of its port';
      this.message = `${what} failed ${this.failures} times in a row`;
      this.changed();
    }
    this.schedule(() => void this.probe(), this.readySince ? this.opts.probeIntervalMs : this.opts.startupProbeMs);
  }

  /**
   * As the kubelet's probes: the health path answers 200, or, without one, the replica's port
   * accepts a connection (a TCP probe), so a replica is not routed to before it listens.
   */
  private async healthy(): Promise<boolean> {
    if (this.address === null) return true;
    if (!this.spec.healthCheckPath) return acceptsConnection(this.address, this.opts.probeTimeoutMs);
    try {
      const res = await fetch(`http://${this.address}${this.spec.healthCheckPath}`, { signal: AbortSignal.timeout(this.opts.probeTimeoutMs) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  private exited(how: string) {
    if (!this.running) return;
    this.running = false;
    this.readySince = null;
    if (this.stopping) return;
    this.restarts++;
    const backoff = this.backoff(this.restarts);
    this.wait('CrashLoopBackOff', `${how}; restart ${this.restarts} in ${Math.round(backoff)} ms`);
    this.schedule(() => void this.run(), backoff);
  }

  /** Stops watching (probes, restarts) but leaves the workload running: a container Gantry will adopt again. */
  detach() {
    this.stopping = true;
    this.timer?.cancel();
    this.log?.close();
  }

  /** Stops the workload gracefully and frees the replica's GPUs. */
  async stop() {
    this.stopping = true;
    this.timer?.cancel();
    if (this.readySince) await this.opts.beforeStop?.(this.spec.deploymentId, this.id, this.spec.terminationGracePeriodSeconds * 1000);
    await this.workload.stop(this.spec.terminationGracePeriodSeconds);
    this.running = false;
    this.status = 'Terminated';
    this.reason = 'Completed';
    this.readySince = null;
    this.opts.gpus.release(this.id);
    this.log?.close();
  }
}

/** Whether `host:port` accepts a TCP connection within the timeout; the connection is closed at once. */
function acceptsConnection(address: string, timeoutMs: number): Promise<boolean> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(address.slice(at + 1)), timeout: timeoutMs });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
