import { systemClock, type Clock } from '../domain/clock.js';
/** Seconds of per-second history kept: the longest metric window (time_interval_minutes) is capped at this. */
const HISTORY_SECONDS = 3600;
/** Durations kept between two samples of the metrics history (for its percentiles); later ones overwrite the oldest. */
const SAMPLE_CAP = 4096;

class DeploymentTraffic {
  readonly counts = new Float64Array(HISTORY_SECONDS);
  readonly durations = new Float64Array(HISTORY_SECONDS);
  /** The absolute second each slot holds. */
  readonly seconds = new Float64Array(HISTORY_SECONDS).fill(-1);
  inFlight = 0;
  lastActivityMs = 0;
  /** Since the last `takeSample`: request durations (at most SAMPLE_CAP), how many there were, and the most in flight at once. */
  sampled: number[] = [];
  sampledCount = 0;
  peakInFlight = 0;
}

/**
 * What the gateway saw of each deployment's requests: per-second counts and durations for
 * the last hour, requests in flight, and the last activity. The autoscaler reads rates and
 * averages over any window from it.
 */
export class Traffic {
  private readonly byDeployment = new Map<string, DeploymentTraffic>();

  constructor(private readonly clock: Clock = systemClock) {}

  started(deploymentId: string) {
    const t = this.of(deploymentId);
    t.inFlight++;
    t.peakInFlight = Math.max(t.peakInFlight, t.inFlight);
    t.lastActivityMs = this.clock.nowMs();
  }

  finished(deploymentId: string, durationMs: number) {
    const t = this.of(deploymentId);
    t.inFlight = Math.max(0, t.inFlight - 1);
    const now = this.clock.nowMs();
    t.lastActivityMs = now;
    const second = Math.floor(now / 1000);
    const slot = second % HISTORY_SECONDS;
    if (t.seconds[slot] !== second) {
      t.seconds[slot] = second;
      t.counts[slot] = 0;
      t.durations[slot] = 0;
    }
    t.counts[slot]! += 1;
    t.durations[slot]! += durationMs;
    if (t.sampled.length < SAMPLE_CAP) t.sampled.push(durationMs);
    else t.sampled[t.sampledCount % SAMPLE_CAP] = durationMs;
    t.sampledCount++;
  }

  /** What happened since the last call: the requests' durations and the most in flight at once; starts the next interval. */
  takeSample(deploymentId: string): { count: number; durationsMs: number[]; peakInFlight: number } {
    const t = this.byDeployment.get(deploymentId);
    if (!t) return { count: 0, durationsMs: [], peakInFlight: 0 };
    const sample = { count: t.sampledCount, durationsMs: t.sampled, peakInFlight: t.peakInFlight };
    t.sampled = [];
    t.sampledCount = 0;
    t.peakInFlight = t.inFlight;
    return sample;
  }

  /** Requests finished over the last `windowMs`, and their total duration. */
  window(deploymentId: string, windowMs: number): { count: number; durationMs: number; seconds: number } {
    const t = this.byDeployment.get(deploymentId);
    const seconds = Math.max(1, Math.min(HISTORY_SECONDS, Math.round(windowMs / 1000)));
    if (!t) return { count: 0, durationMs: 0, seconds };
    const now = Math.floor(this.clock.nowMs() / 1000);
    let count = 0;
    let durationMs = 0;
    for (let s = now - seconds + 1; s <= now; s++) {
      const slot = ((s % HISTORY_SECONDS) + HISTORY_SECONDS) % HISTORY_SECONDS;
      if (t.seconds[slot] === s) {
        count += t.counts[slot]!;
        durationMs += t.durations[slot]!;
      }
    }
    return { count, durationMs, seconds };
  }

  inFlight(deploymentId: string): number {
    return this.byDeployment.get(deploymentId)?.inFlight ?? 0;
  }

  /** When a request last started or finished; 0 if never. */
  lastActivityMs(deploymentId: string): number {
    return this.byDeployment.get(deploymentId)?.lastActivityMs ?? 0;
  }

  /** Deployments that have had traffic (until `retain` drops the deleted ones). */
  deploymentIds(): string[] {
    return [...this.byDeployment.keys()];
  }

  /** Drops what was recorded of deployments not in `ids` (deleted ones). */
  retain(ids: Set<string>) {
    for (const id of this.byDeployment.keys()) if (!ids.has(id)) this.byDeployment.delete(id);
  }

  private of(id: string) {
    let t = this.byDeployment.get(id);
    if (!t) this.byDeployment.set(id, (t = new DeploymentTraffic()));
    return t;
  }
}
