import { systemClock, type Clock } from '../domain/clock.js';
/** Seconds of per-second history kept: the longest metric window (time_interval_minutes) is capped at this. */
const HISTORY_SECONDS = 3600;
/** Durations kept between two samples of the metrics history (for its percentiles); later ones overwrite the oldest. */
const SAMPLE_CAP = 4096;
/** Other instances' in-flight and held requests count this long after their last report. */
const REMOTE_LOAD_MS = 3000;
/**
 * Other instances report a second once it is over, and the leader merges reports once a
 * second: their traffic arrives this many seconds late, so a window reads theirs this much
 * earlier (a two-second burst window would otherwise see none of it).
 */
const REMOTE_LAG_SECONDS = 2;

/** Requests finished per second and their total duration, for the last hour. */
class Seconds {
  readonly counts = new Float64Array(HISTORY_SECONDS);
  readonly durations = new Float64Array(HISTORY_SECONDS);
  /** The absolute second each slot holds. */
  readonly seconds = new Float64Array(HISTORY_SECONDS).fill(-1);

  add(second: number, count: number, durationMs: number) {
    const slot = second % HISTORY_SECONDS;
    if (this.seconds[slot] !== second) {
      if (this.seconds[slot]! > second) return; // older than the hour kept
      this.seconds[slot] = second;
      this.counts[slot] = 0;
      this.durations[slot] = 0;
    }
    this.counts[slot]! += count;
    this.durations[slot]! += durationMs;
  }

  at(second: number): { count: number; durationMs: number } {
    const slot = second % HISTORY_SECONDS;
    return this.seconds[slot] === second ? { count: this.counts[slot]!, durationMs: this.durations[slot]! } : { count: 0, durationMs: 0 };
  }
}

class DeploymentTraffic {
  /** What this instance's gateway saw. */
  readonly local = new Seconds();
  /** What other instances reported (cluster/traffic-exchange.ts), on the leader. */
  readonly remote = new Seconds();
  inFlight = 0;
  lastActivityMs = 0;
  /** Other instances' requests in flight and held, as of `remoteAtMs`. */
  remoteInFlight = 0;
  remoteHeld = 0;
  remoteAtMs = 0;
  /** Since the last `takeSample`: request durations (at most SAMPLE_CAP), how many there were, and the most in flight at once. */
  sampled: number[] = [];
  sampledCount = 0;
  peakInFlight = 0;
}

/**
 * What the gateway saw of each deployment's requests: per-second counts and durations for
 * the last hour, requests in flight, and the last activity; on the leader also what the other
 * instances' gateways reported. The autoscaler reads rates and averages over any window from
 * it, all instances' traffic together.
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
    t.local.add(Math.floor(now / 1000), 1, durationMs);
    if (t.sampled.length < SAMPLE_CAP) t.sampled.push(durationMs);
    else t.sampled[t.sampledCount % SAMPLE_CAP] = durationMs;
    t.sampledCount++;
  }

  /** Another instance's finished requests in one second. */
  addRemote(deploymentId: string, second: number, count: number, durationMs: number) {
    const t = this.of(deploymentId);
    t.remote.add(second, count, durationMs);
    t.lastActivityMs = Math.max(t.lastActivityMs, second * 1000);
  }

  /** The other instances' requests in flight and held now, summed. */
  setRemoteLoad(deploymentId: string, inFlight: number, held: number) {
    const t = this.of(deploymentId);
    t.remoteInFlight = inFlight;
    t.remoteHeld = held;
    t.remoteAtMs = this.clock.nowMs();
    if (inFlight + held > 0) t.lastActivityMs = t.remoteAtMs;
  }

  /** Another instance holds requests for the deployment (its wake-up message, before its next report). */
  noteRemoteHeld(deploymentId: string, held: number) {
    const t = this.of(deploymentId);
    t.remoteHeld = Math.max(held, this.remoteFresh(t) ? t.remoteHeld : 0);
    if (!this.remoteFresh(t)) t.remoteInFlight = 0;
    t.remoteAtMs = t.lastActivityMs = this.clock.nowMs();
  }

  /** What this instance's gateway saw in one second, for its report to the leader. */
  localSecond(deploymentId: string, second: number): { count: number; durationMs: number; inFlight: number } {
    const t = this.byDeployment.get(deploymentId);
    return t ? { ...t.local.at(second), inFlight: t.inFlight } : { count: 0, durationMs: 0, inFlight: 0 };
  }

  /** What happened here since the last call: the requests' durations and the most in flight at once; starts the next interval. */
  takeSample(deploymentId: string): { count: number; durationsMs: number[]; peakInFlight: number } {
    const t = this.byDeployment.get(deploymentId);
    if (!t) return { count: 0, durationsMs: [], peakInFlight: 0 };
    const sample = { count: t.sampledCount, durationsMs: t.sampled, peakInFlight: t.peakInFlight };
    t.sampled = [];
    t.sampledCount = 0;
    t.peakInFlight = t.inFlight;
    return sample;
  }

  /** Requests finished over the last `windowMs` on every instance, and their total duration. */
  window(deploymentId: string, windowMs: number): { count: number; durationMs: number; seconds: number } {
    const t = this.byDeployment.get(deploymentId);
    const seconds = Math.max(1, Math.min(HISTORY_SECONDS, Math.round(windowMs / 1000)));
    if (!t) return { count: 0, durationMs: 0, seconds };
    const now = Math.floor(this.clock.nowMs() / 1000);
    let count = 0;
    let durationMs = 0;
    for (let s = now - seconds + 1; s <= now; s++) {
      const local = t.local.at(s);
      const remote = t.remote.at(s - REMOTE_LAG_SECONDS);
      count += local.count + remote.count;
      durationMs += local.durationMs + remote.durationMs;
    }
    return { count, durationMs, seconds };
  }

  /** Requests in flight on every instance. */
  inFlight(deploymentId: string): number {
    const t = this.byDeployment.get(deploymentId);
    return t ? t.inFlight + (this.remoteFresh(t) ? t.remoteInFlight : 0) : 0;
  }

  /** Requests other instances hold for a ready replica. */
  remoteHeld(deploymentId: string): number {
    const t = this.byDeployment.get(deploymentId);
    return t && this.remoteFresh(t) ? t.remoteHeld : 0;
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

  private remoteFresh(t: DeploymentTraffic) {
    return this.clock.nowMs() - t.remoteAtMs < REMOTE_LOAD_MS;
  }

  private of(id: string) {
    let t = this.byDeployment.get(id);
    if (!t) this.byDeployment.set(id, (t = new DeploymentTraffic()));
    return t;
  }
}
