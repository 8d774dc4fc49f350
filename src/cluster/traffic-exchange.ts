import type { Clock } from '../domain/clock.js';
import type { RoutingTable } from '../gateway/routing-table.js';
import type { Traffic } from '../gateway/traffic.js';
import type { ClusterStore, TrafficReport } from '../store/cluster-store.js';

/** Reports are kept this long: enough for a new leader to pick up the last minute. */
const KEEP_SECONDS = 120;
/** A new leader merges this much of the others' past traffic. */
const CATCH_UP_SECONDS = 60;
/** The latest report of an instance counts for its load (in flight, held) this long. */
const LOAD_SECONDS = 3;

export interface TrafficExchangeOptions {
  store: ClusterStore;
  traffic: Traffic;
  routes: RoutingTable;
  clock: Clock;
  instanceId: string;
}

/**
 * Every instance's gateway traffic, for the leader's autoscaler, through the store (as
 * Knative's activators report to its autoscaler): each instance writes a row per deployment
 * per second it had requests, in flight or held; the leader merges the others' rows into its
 * Traffic, so a load split over instances is sized as the same load on one.
 */
export class TrafficExchange {
  /** The last second reported by this instance. */
  private reported: number;
  /** Per other instance, the last second merged. */
  private readonly merged = new Map<string, number>();
  private lastPrune = 0;

  constructor(private readonly o: TrafficExchangeOptions) {
    this.reported = this.second() - 1;
  }

  /** Writes this instance's finished seconds since the last report (every instance, once a second). */
  async report() {
    const now = this.second();
    const rows: TrafficReport[] = [];
    for (const id of this.o.traffic.deploymentIds()) {
      for (let s = this.reported + 1; s < now; s++) {
        const at = this.o.traffic.localSecond(id, s);
        // The load goes with the latest second only.
        const last = s === now - 1;
        const inFlight = last ? at.inFlight : 0;
        const held = last ? this.o.routes.held(id) : 0;
        if (at.count + inFlight + held === 0) continue;
        rows.push({ instance_id: this.o.instanceId, deployment_id: id, second: s, requests: at.count, duration_ms: at.durationMs, in_flight: inFlight, held });
      }
    }
    this.reported = now - 1;
    if (rows.length) await this.o.store.addTraffic(rows);
  }

  /** Merges the other instances' new rows into Traffic (the leader, once a second). */
  async merge() {
    const now = this.second();
    const floor = now - CATCH_UP_SECONDS;
    const from = Math.min(floor, ...[...this.merged.values()].map((s) => s + 1));
    const rows = await this.o.store.trafficSince(Math.max(from, floor), this.o.instanceId);
    const load = new Map<string, { inFlight: number; held: number }>();
    const newest = new Map<string, number>();
    for (const r of rows) {
      if (r.second > (this.merged.get(r.instance_id) ?? floor - 1)) {
        this.o.traffic.addRemote(r.deployment_id, r.second, r.requests, r.duration_ms);
        newest.set(r.instance_id, Math.max(newest.get(r.instance_id) ?? 0, r.second));
      }
      if (r.second >= now - LOAD_SECONDS) {
        // Rows come oldest first: an instance's latest row for the deployment wins.
        const key = `${r.instance_id} ${r.deployment_id}`;
        load.set(key, { inFlight: r.in_flight, held: r.held });
      }
    }
    for (const [instance, second] of newest) this.merged.set(instance, second);
    const byDeployment = new Map<string, { inFlight: number; held: number }>();
    for (const [key, l] of load) {
      const id = key.slice(key.indexOf(' ') + 1);
      const sum = byDeployment.get(id) ?? { inFlight: 0, held: 0 };
      byDeployment.set(id, { inFlight: sum.inFlight + l.inFlight, held: sum.held + l.held });
    }
    for (const [id, l] of byDeployment) this.o.traffic.setRemoteLoad(id, l.inFlight, l.held);
    if (now - this.lastPrune >= KEEP_SECONDS / 2) {
      this.lastPrune = now;
      await this.o.store.dropTrafficBefore(now - KEEP_SECONDS);
    }
  }

  /** A new leader starts from the last minute of the others' reports, not from what a previous term merged. */
  resetMerged() {
    this.merged.clear();
  }

  private second() {
    return Math.floor(this.o.clock.nowMs() / 1000);
  }
}
