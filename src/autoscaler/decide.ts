import type { AutoscalingConfig } from '../contract/schemas/deployment.js';

/** What the autoscaler knows of a deployment at one tick. */
export interface Signals {
  /** Requests per second over the last few seconds (bursts) and over the metric's window. */
  shortRate: number;
  windowRate: number;
  /** Average request duration in ms over the last few seconds and over the window; null without requests. */
  shortAvgMs: number | null;
  windowAvgMs: number | null;
  /**
   * Requests in flight on average (their total time over the window's length, by Little's law)
   * over the last few seconds and over the metric's window.
   */
  shortConcurrency: number;
  windowConcurrency: number;
  inFlight: number;
  /** Requests the gateway holds because no replica is ready. */
  held: number;
  /** Since the last request started or finished. */
  idleMs: number;
  /** The custom metric summed over ready replicas; null when it could not be read. */
  custom: number | null;
  /** Pending plus running jobs in the deployment's queue; null when it could not be read. */
  queueDepth: number | null;
  /** A revision other than the current one still runs. */
  rollingOut: boolean;
}

export interface Decision {
  desired: number;
  /** What the metric alone asks for, before bounds and the stabilization window. */
  recommended: number;
  reason: string;
}

export interface DecideOptions {
  /** Scale-down waits until every recommendation over this window is lower (like HPA). */
  stabilizationMs: number;
  /** A deployment with min_replicas 0 goes to zero only after this long without a request. */
  idleGraceMs: number;
}

/**
 * One autoscaling decision. Up at once, down only to the highest recommendation of the
 * stabilization window; zero only after the idle grace, never with requests in flight or held
 * or during a rollout; a held request wakes a deployment at zero. `history` is the deployment's
 * recent recommendations, kept by the caller and pruned here.
 */
export function decide(
  cfg: AutoscalingConfig,
  bounds: { min: number; max: number; current: number },
  s: Signals,
  history: { at: number; recommended: number }[],
  now: number,
  o: DecideOptions,
): Decision {
  const target = cfg.target ?? 1;
  let recommended: number;
  let reason: string;
  switch (cfg.metric) {
    case 'HTTPTotalRequests': {
      // Per replica, in requests per second. The short rate catches a burst at once; the window keeps a steady load.
      const rate = Math.max(s.shortRate, s.windowRate);
      recommended = Math.ceil(rate / target);
      reason = `rate ${rate.toFixed(2)} req/s over target ${target} per replica`;
      break;
    }
    case 'HTTPAvgRequestDuration': {
      const avg = s.shortAvgMs ?? s.windowAvgMs;
      // Proportional, as the HPA scales on a utilization: more replicas while the average exceeds the target.
      recommended = avg === null ? bounds.current : Math.ceil(Math.max(bounds.current, 1) * (avg / target));
      reason = avg === null ? 'no requests to average' : `average ${avg.toFixed(0)} ms against target ${target} ms`;
      break;
    }
    case 'ConcurrentRequests': {
      // As Knative's KPA: the larger of the window's and the last seconds' average concurrency
      // (requests' time over the window's length); in a burst, what is in flight and held right
      // now when it asks for twice the replicas or more (panic), which the stabilization
      // window then keeps until the burst has passed.
      const steady = Math.max(s.windowConcurrency, s.shortConcurrency);
      const now = s.inFlight + s.held;
      const panic = Math.ceil(now / target) >= 2 * Math.max(1, bounds.current);
      const value = panic ? Math.max(steady, now) : steady;
      recommended = Math.ceil(value / target);
      reason = `concurrency ${value.toFixed(2)}${panic ? ` (panic: ${now} in flight and held)` : ''} over target ${target} per replica`;
      break;
    }
    case 'CustomMetric':
      recommended = s.custom === null ? bounds.current : Math.ceil(s.custom / target);
      reason =
        s.custom === null ? `${cfg.custom_metric_name} not readable` : `${cfg.custom_metric_name} ${s.custom} in total over target ${target} per replica`;
      break;
    default:
      recommended = s.queueDepth === null ? bounds.current : Math.ceil(s.queueDepth / target);
      reason = s.queueDepth === null ? 'no queue depth' : `queue depth ${s.queueDepth} over target ${target}`;
  }
  // Work waiting or under way (requests, held requests, jobs) needs a replica, whatever the metric says.
  if (s.held > 0 || s.inFlight > 0 || (s.queueDepth ?? 0) > 0) {
    recommended = Math.max(recommended, 1);
    if (s.held > 0) reason += `; ${s.held} held`;
  } else if (s.idleMs >= o.idleGraceMs) {
    // No request for the whole idle grace: nothing needs a replica, whatever a long window's average says.
    recommended = 0;
    reason += `; idle for ${Math.round(s.idleMs / 1000)} s`;
  } else if (recommended === 0 && bounds.current > 0) {
    // Idle, but not for long enough yet: keep a replica.
    recommended = 1;
  }

  // A deployment seen for the first time (or after a Gantry restart) keeps its count for a window before going down.
  if (history.length === 0) history.push({ at: now, recommended: bounds.current });
  history.push({ at: now, recommended });
  while (history.length && history[0]!.at < now - o.stabilizationMs) history.shift();
  let desired = recommended >= bounds.current ? recommended : Math.max(...history.map((h) => h.recommended));
  desired = Math.min(bounds.max, Math.max(bounds.min, desired));
  if (desired === 0 && s.rollingOut) desired = 1;
  return { desired, recommended, reason };
}
