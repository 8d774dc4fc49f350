import type { Clock } from '../domain/clock.js';
import type { HardwareCatalog } from '../endpoints/hardware.js';
import type { Store } from '../store/store.js';
import type { UsageMinute } from '../store/usage-store.js';
import { every } from '../domain/periodic.js';
import type { RuntimePort } from '../contract/ports.js';

/** The start of the minute `at` falls in, as stored. */
export const minuteOf = (at: Date) => new Date(Math.floor(at.getTime() / 60_000) * 60_000).toISOString();

/**
 * Meters every running replica per minute at its hardware's price: a replica running when
 * sampled is charged the whole minute, once (a minute is the unit, as Together bills).
 * Samples come every few seconds so a replica that runs only part of a minute is still seen;
 * a replica waiting for GPUs or restarting holds none and is not charged.
 */
export class UsageMeter {
  private stopTimer = () => {};
  /** Replicas already recorded for `minute`, so a sample writes only what is new. */
  private recorded = new Set<string>();
  private minute = '';

  constructor(
    private readonly o: {
      store: Store;
      runtime: Pick<RuntimePort, 'observe' | 'runningDeployments'>;
      hardware: HardwareCatalog;
      clock: Clock;
      intervalMs?: number;
      log?: (msg: string, fields: object) => void;
    },
  ) {}

  start() {
    this.stopTimer = every(
      this.o.clock,
      this.o.intervalMs ?? 5000,
      () => this.sample(),
      (err) => this.o.log?.('usage sample failed', { error: err.message }),
    );
  }

  stop() {
    this.stopTimer();
  }

  /** Records the current minute for every replica running now; answers how many were new. */
  async sample(): Promise<number> {
    const minute = minuteOf(this.o.clock.now());
    if (minute !== this.minute) {
      this.minute = minute;
      this.recorded = new Set();
    }
    // Only deployments with replicas can have a minute to record.
    const [deployments, endpoints] = await Promise.all([
      this.o.store.listBusyDeployments(this.o.runtime.runningDeployments(), { autoscaledOnly: false }),
      this.o.store.endpoints.all(),
    ]);
    const endpointOf = new Map(endpoints.map((e) => [e.deployment_id, e]));
    const rows: UsageMinute[] = [];
    for (const d of deployments) {
      const hw = this.o.hardware.priced(d.spec.gpu_type, d.spec.gpu_count);
      const endpoint = endpointOf.get(d.id);
      for (const r of this.o.runtime.observe(d.id).replicas) {
        if (r.status !== 'Running' || this.recorded.has(r.id)) continue;
        rows.push({
          replica_id: r.id,
          minute,
          project_id: d.project_id,
          deployment_id: d.id,
          deployment_name: d.name,
          endpoint_id: endpoint?.id ?? null,
          endpoint_name: endpoint?.name ?? null,
          hardware: hw.id,
          cents_per_minute: hw.centsPerMinute,
        });
      }
    }
    await this.o.store.usage.record(rows);
    for (const row of rows) this.recorded.add(row.replica_id);
    return rows.length;
  }
}
