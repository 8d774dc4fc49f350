import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { GpuInventory } from './gpus.js';
import { followReplicaLog, readReplicaLog } from './replica-log.js';
import { Replica, type ReplicaOptions, type Workload } from './replica.js';
import type { LogFilter, ReplicaState, RevisionSpec, RevisionTarget, RuntimeDriver } from '../contract/runtime.js';
import { systemClock } from '../domain/clock.js';
import { randomIds } from '../domain/ids.js';

export type ReplicaDriverOptions = {
  /** Where each replica gets a directory (its output log; the process runtime's working dir). */
  dir: string;
} & Partial<ReplicaOptions>;

/** Replicas of a deployment that stopped, kept so their logs stay readable. */
const HISTORY = 20;

/**
 * What the process and docker drivers share: converging a deployment's replicas to the
 * targets, observing them, and their logs on disk. Subclasses say how a workload runs.
 */
interface LogFollower {
  deploymentId: string;
  filter: LogFilter;
  follow(dir: string): void;
}

export abstract class ReplicaDriver implements RuntimeDriver {
  abstract readonly kind: RuntimeDriver['kind'];
  abstract readonly requiresCommand: boolean;
  /** Volume versions are directories on this machine, bind-mounted into each replica. */
  readonly volumesFrom = 'host' as const;
  protected readonly replicas = new Map<string, Replica>();
  protected readonly opts: ReplicaOptions;
  protected closed = false;
  private readonly stopped = new Map<string, { id: string; revisionId: string; dir: string }[]>();
  private readonly listeners: ((deploymentId: string) => void)[] = [];
  /** Open `followLogs` streams: a replica added later is followed by those it matches. */
  private readonly followers = new Set<LogFollower>();

  constructor(protected readonly options: ReplicaDriverOptions) {
    this.opts = {
      probeIntervalMs: 1000,
      startupProbeMs: 50,
      probeTimeoutMs: 1000,
      failureThreshold: 3,
      baseBackoffMs: 1000,
      maxBackoffMs: 300_000,
      logCapBytes: 5 * 1024 * 1024,
      gpus: new GpuInventory([]),
      clock: systemClock,
      ids: randomIds,
      ...options,
    };
  }

  /** The workload that runs replica `id` of `spec`, with `dir` as its directory. */
  protected abstract workload(id: string, spec: RevisionSpec, dir: string): Workload;

  abstract close(): Promise<void>;

  onChange(listener: (deploymentId: string) => void) {
    this.listeners.push(listener);
  }

  observe(deploymentId: string): ReplicaState[] {
    return this.of(deploymentId).map((r) => r.state());
  }

  deployments(): string[] {
    return [...new Set([...this.replicas.values()].map((r) => r.spec.deploymentId))];
  }

  async apply(deploymentId: string, targets: RevisionTarget[]): Promise<void> {
    if (this.closed) throw new Error(`the ${this.kind} runtime is shut down`);
    const mine = this.of(deploymentId).filter((r) => !r.stopping);
    const stops: Replica[] = [];
    let started = 0;
    for (const r of mine) if (!targets.some((t) => t.revisionId === r.spec.revisionId)) stops.push(r);
    for (const t of targets) {
      const running = mine.filter((r) => r.spec.revisionId === t.revisionId);
      // Keep ready replicas; scale down those not serving yet first.
      running.sort((a, b) => Number(!a.readySince) - Number(!b.readySince));
      stops.push(...running.slice(t.replicas));
      if (t.revision) for (let i = running.length; i < t.replicas; i++, started++) this.start(t.revision);
    }
    // Only real changes are announced: a no-op apply must not wake the controller again.
    if (started > 0) this.emit(deploymentId);
    await Promise.all(stops.map((r) => this.stop(r)));
    // No target at all means the deployment is gone: so are its directories and logs.
    if (targets.length === 0) {
      this.stopped.delete(deploymentId);
      rmSync(join(this.options.dir, deploymentId), { recursive: true, force: true });
    }
  }

  async logs(deploymentId: string, filter: LogFilter): Promise<string[]> {
    return (await Promise.all(this.logDirs(deploymentId, filter).map((dir) => readReplicaLog(dir)))).flat();
  }

  /** Follows the output of the deployment's replicas, those that start later included (a rollout's new revision, a scale-up). */
  followLogs(deploymentId: string, filter: LogFilter, onLines: (lines: string[]) => void): () => void {
    const follower: LogFollower = {
      deploymentId,
      filter,
      follow: (dir) => stops.push(followReplicaLog(dir, onLines, this.opts.clock)),
    };
    const stops = this.logDirs(deploymentId, filter).map((dir) => followReplicaLog(dir, onLines, this.opts.clock));
    this.followers.add(follower);
    return () => {
      this.followers.delete(follower);
      stops.forEach((s) => s());
    };
  }

  protected detachAll() {
    for (const r of this.replicas.values()) r.detach();
  }

  protected async stopAll() {
    await Promise.all([...this.replicas.values()].map((r) => this.stop(r)));
  }

  private of(deploymentId: string) {
    return [...this.replicas.values()].filter((r) => r.spec.deploymentId === deploymentId);
  }

  private logDirs(deploymentId: string, filter: LogFilter): string[] {
    const all = [...(this.stopped.get(deploymentId) ?? []), ...this.of(deploymentId).map((r) => ({ id: r.id, revisionId: r.spec.revisionId, dir: r.dir }))];
    return all.filter((r) => (!filter.replicaId || r.id === filter.replicaId) && (!filter.revisionId || r.revisionId === filter.revisionId)).map((r) => r.dir);
  }

  private emit(deploymentId: string) {
    for (const l of this.listeners) l(deploymentId);
  }

  private start(spec: RevisionSpec) {
    // As Kubernetes names pods: deployment, revision, random suffix (unique across instances sharing an engine).
    const id = `${spec.deploymentName}-${spec.revisionId.slice(-8)}-${this.opts.ids.hex(4)}`;
    this.add(id, spec);
  }

  /**
   * Tracks and runs a replica. An adopted container comes with its workload and the GPUs it
   * already holds.
   */
  protected add(id: string, spec: RevisionSpec, gpus: number[] | null = null, workload?: Workload) {
    const dir = join(this.options.dir, spec.deploymentId, id);
    const r = new Replica(id, spec, dir, workload ?? this.workload(id, spec, dir), this.opts, () => this.emit(spec.deploymentId), gpus);
    this.replicas.set(id, r);
    for (const f of this.followers) {
      const wanted =
        f.deploymentId === spec.deploymentId &&
        (!f.filter.replicaId || f.filter.replicaId === id) &&
        (!f.filter.revisionId || f.filter.revisionId === spec.revisionId);
      if (wanted) f.follow(dir);
    }
    void r.run();
  }

  private async stop(r: Replica) {
    await r.stop();
    this.replicas.delete(r.id);
    const history = this.stopped.get(r.spec.deploymentId) ?? [];
    history.push({ id: r.id, revisionId: r.spec.revisionId, dir: r.dir });
    this.stopped.set(r.spec.deploymentId, history.slice(-HISTORY));
    this.emit(r.spec.deploymentId);
    // GPUs were freed: replicas waiting for them may start now.
    for (const waiting of this.replicas.values()) if (waiting.unschedulable) void waiting.run();
  }
}
