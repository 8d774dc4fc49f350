import type { Counter } from 'prom-client';
import type { RoutingTable } from '../gateway/routing-table.js';
import type { Traffic } from '../gateway/traffic.js';
import type { ReplicaState } from '../runtime/types.js';
import type { DeploymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { decide, type DecideOptions } from './decide.js';

/** The window that catches a burst: a step in load moves the decision within a tick or two. */
const SHORT_WINDOW_MS = 5_000;

export interface AutoscalerOptions extends DecideOptions {
  store: Store;
  traffic: Traffic;
  routes: RoutingTable;
  /** What runs now, per deployment (the runtime's observation). */
  observe(deploymentId: string): ReplicaState[];
  /** Tells the controller a deployment's desired count changed. */
  changed(deploymentId: string): void;
  /** The custom metric summed over a deployment's ready replicas; null when unreadable. */
  customMetric?(deploymentId: string, name: string): Promise<number | null>;
  tickMs?: number;
  now?: () => number;
  log?: (msg: string, fields: object) => void;
  decisions?: Counter<'direction'>;
}

/**
 * Sizes every autoscaled deployment once a tick (and at once when a request is held for a
 * deployment without a ready replica): reads the gateway's traffic, decides (decide.ts),
 * and writes `desired_replicas`, which the deployment controller carries out. Each change is
 * logged with its inputs and counted.
 */
export class Autoscaler {
  private readonly history = new Map<string, { at: number; recommended: number }[]>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly o: AutoscalerOptions) {}

  start() {
    // A failed pass (the store unreachable, say) is logged and the next tick tries again.
    const pass = (p: Promise<void>) => p.catch((err: Error) => this.o.log?.('autoscaler pass failed', { error: err.message }));
    this.timer = setInterval(() => void pass(this.tick()), this.o.tickMs ?? 1000);
    this.o.routes.onHold((id) => void pass(this.tickOne(id)));
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass over every deployment; overlapping ticks are skipped. */
  async tick() {
    if (this.running) return;
    this.running = (async () => {
      const all = await this.o.store.listAllDeployments();
      // Deleted deployments leave nothing behind.
      const live = new Set(all.map((d) => d.id));
      for (const id of this.history.keys()) if (!live.has(id)) this.history.delete(id);
      this.o.traffic.retain(live);
      for (const d of all) await this.size(d);
    })().finally(() => (this.running = null));
    await this.running;
  }

  /** Sizes one deployment at once (a request is being held for it). */
  async tickOne(id: string) {
    const d = await this.o.store.findDeploymentById(id);
    if (d) await this.size(d);
  }

  private async size(d: DeploymentRecord) {
    const id = d.id;
    const cfg = d.spec.autoscaling;
    if (!cfg) return;
    const now = (this.o.now ?? Date.now)();
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
      inFlight: this.o.traffic.inFlight(id),
      held: this.o.routes.held(id),
      idleMs: last ? now - last : now - Date.parse(d.updated_at),
      custom: cfg.metric === 'CustomMetric' && this.o.customMetric ? await this.o.customMetric(id, cfg.custom_metric_name!) : null,
      queueDepth: null,
      rollingOut: observed.some((r) => r.revisionId !== d.revision_id),
    };
    let history = this.history.get(id);
    if (!history) this.history.set(id, (history = []));
    const decision = decide(cfg, { min: d.spec.min_replicas, max: d.spec.max_replicas, current: d.desired_replicas }, signals, history, now, this.o);
    if (decision.desired === d.desired_replicas) return;
    if (!(await this.o.store.setDesiredReplicas(id, d.version, decision.desired))) return;
    this.o.decisions?.inc({ direction: decision.desired > d.desired_replicas ? 'up' : 'down' });
    this.o.log?.('autoscaler decision', describe(d, decision.desired, decision.reason, signals));
    this.o.changed(id);
  }
}

function describe(d: DeploymentRecord, desired: number, reason: string, signals: object) {
  return { deployment: d.name, from: d.desired_replicas, to: desired, reason, ...signals };
}
