import type { Counter } from 'prom-client';
import type { RoutingTable } from '../gateway/routing-table.js';
import type { Traffic } from '../gateway/traffic.js';
import type { ReplicaState } from '../contract/runtime.js';
import type { DeploymentRecord } from '../contract/records.js';
import type { Store } from '../store/store.js';
import { decide, type DecideOptions } from './decide.js';
import { every } from '../domain/periodic.js';
import type { Clock } from '../domain/clock.js';

/** How often what is kept of deleted deployments is dropped (it costs a read of every id). */
const PRUNE_EVERY_MS = 60_000;

/** The window that catches a burst: a step in load to a few times the target moves the decision within a second or two. */
const SHORT_WINDOW_MS = 2_000;

/** What the autoscaler reads and writes of deployments (the store; the simulator's one deployment). */
export type AutoscalerStore = Pick<Store, 'listBusyDeployments' | 'findDeploymentById' | 'setDesiredReplicas' | 'listDeploymentIds'>;

export interface AutoscalerOptions extends DecideOptions {
  store: AutoscalerStore;
  traffic: Traffic;
  routes: RoutingTable;
  /** What runs now, per deployment (the runtime's observation). */
  observe(deploymentId: string): ReplicaState[];
  /** Tells the controller a deployment's desired count changed. */
  changed(deploymentId: string): void;
  /** The custom metric summed over a deployment's ready replicas; null when unreadable. */
  customMetric?(deploymentId: string, name: string): Promise<number | null>;
  /** Reads every queue's depth (pending + running) once; the answer looks one up by project and queue name. */
  queueDepths?(): Promise<(projectId: string, model: string) => number>;
  tickMs?: number;
  /** Whether this instance may act (it holds the leader lease); always, without one. */
  holds?: () => boolean;
  clock: Clock;
  log?: (msg: string, fields: object) => void;
  decisions?: Counter<'direction'>;
  /** Told each change of desired replicas, described ("1 → 3: …"); the metrics history marks it. */
  decided?(deploymentId: string, text: string): void;
}

/**
 * Sizes every autoscaled deployment once a tick (and at once when work arrives for one at
 * zero: `wake`): reads every instance's gateway traffic, decides (decide.ts), and writes
 * `desired_replicas`, which the deployment controller carries out. Each change is logged with
 * its inputs and counted. Only the leader runs one.
 */
export class Autoscaler {
  private readonly history = new Map<string, { at: number; recommended: number }[]>();
  /** Autoscaled deployments at zero replicas as of their last sizing: work for them wakes them at once. */
  private readonly atZero = new Set<string>();
  /** Deployments being sized at once after a wake-up. */
  private readonly waking = new Set<string>();
  private stopTimer = () => {};
  private running: Promise<void> | null = null;
  private lastPrune = -Infinity;

  constructor(private readonly o: AutoscalerOptions) {}

  start() {
    // A failed pass (the store unreachable, say) is logged and the next tick tries again.
    const failed = (err: Error) => this.o.log?.('autoscaler pass failed', { error: err.message });
    this.stopTimer = every(this.o.clock, this.o.tickMs ?? 1000, () => this.tick(), failed);
  }

  async stop() {
    this.stopTimer();
    await this.running;
  }

  /**
   * One pass over the autoscaled deployments that run replicas, have queued jobs or have had
   * traffic (store.listBusyDeployments): one at zero with nothing to do is not read, so the
   * pass does not grow with idle deployments. Overlapping ticks are skipped.
   */
  async tick() {
    if (this.running || !this.mayAct()) return;
    this.running = (async () => {
      if (this.o.clock.nowMs() - this.lastPrune >= PRUNE_EVERY_MS) await this.prune();
      const toSize = await this.o.store.listBusyDeployments(this.o.traffic.deploymentIds(), { autoscaledOnly: true });
      // Each reads its queue: jobs keep it from zero, and wake it.
      const depths = toSize.length ? await this.o.queueDepths?.() : undefined;
      for (const d of toSize) await this.size(d, depths);
    })().finally(() => (this.running = null));
    await this.running;
  }

  /** Deleted deployments leave nothing behind. */
  private async prune() {
    this.lastPrune = this.o.clock.nowMs();
    const live = new Set(await this.o.store.listDeploymentIds());
    for (const id of this.history.keys()) if (!live.has(id)) this.history.delete(id);
    for (const id of this.atZero) if (!live.has(id)) this.atZero.delete(id);
    this.o.traffic.retain(live);
  }

  /**
   * Work arrived for a deployment, on any instance: a request held for a ready replica
   * (`held`) sizes it at once; a submitted job does if it is at zero, else the next tick will.
   */
  wake(id: string, held: boolean) {
    // One sizing at a time per deployment: a burst of held requests asks once, not once each.
    if ((!held && !this.atZero.has(id)) || this.waking.has(id)) return;
    this.waking.add(id);
    void this.tickOne(id)
      .catch((err: Error) => this.o.log?.('autoscaler pass failed', { error: err.message }))
      .finally(() => this.waking.delete(id));
  }

  /** Sizes one deployment at once. */
  async tickOne(id: string) {
    if (!this.mayAct()) return;
    const d = await this.o.store.findDeploymentById(id);
    if (d?.spec.autoscaling) await this.size(d, await this.o.queueDepths?.());
  }

  private async size(d: DeploymentRecord, depths?: (projectId: string, model: string) => number) {
    const id = d.id;
    const cfg = d.spec.autoscaling;
    if (!cfg) return;
    const now = this.o.clock.nowMs();
    const windowMs = (cfg.time_interval_minutes ?? 10) * 60_000;
    const short = this.o.traffic.window(id, SHORT_WINDOW_MS);
    const long = this.o.traffic.window(id, windowMs);
    const observed = this.o.observe(id);
    const last = this.o.traffic.lastActivityMs(id);
    const signals = {
      shortRate: short.count / short.seconds,
      windowRate: long.count / long.seconds,
      shortAvgMs: short.count ? short.durationMs / short.count : null,
      windowAvgMs: long.count ? long.durationMs / long.count : null,
      shortConcurrency: short.durationMs / (short.seconds * 1000),
      windowConcurrency: long.durationMs / (long.seconds * 1000),
      inFlight: this.o.traffic.inFlight(id),
      held: this.o.routes.held(id) + this.o.traffic.remoteHeld(id),
      idleMs: last ? now - last : now - Date.parse(d.updated_at),
      custom: cfg.metric === 'CustomMetric' && this.o.customMetric ? await this.o.customMetric(id, cfg.custom_metric_name!) : null,
      queueDepth: depths ? depths(d.project_id, cfg.model ?? d.name) : null,
      rollingOut: observed.some((r) => r.revisionId !== d.revision_id),
    };
    let history = this.history.get(id);
    if (!history) this.history.set(id, (history = []));
    const decision = decide(cfg, { min: d.spec.min_replicas, max: d.spec.max_replicas, current: d.desired_replicas }, signals, history, now, this.o);
    if (decision.desired === 0) this.atZero.add(id);
    else this.atZero.delete(id);
    if (decision.desired === d.desired_replicas || !this.mayAct()) return;
    if (!(await this.o.store.setDesiredReplicas(id, d.version, decision.desired))) return;
    this.o.decisions?.inc({ direction: decision.desired > d.desired_replicas ? 'up' : 'down' });
    this.o.log?.('autoscaler decision', describe(d, decision.desired, decision.reason, signals));
    this.o.decided?.(id, `${d.desired_replicas} → ${decision.desired}: ${decision.reason}`);
    this.o.changed(id);
  }

  private mayAct() {
    return this.o.holds?.() ?? true;
  }
}

function describe(d: DeploymentRecord, desired: number, reason: string, signals: object) {
  return { deployment: d.name, from: d.desired_replicas, to: desired, reason, ...signals };
}
