import type { Clock } from '../domain/clock.js';
import { every } from '../domain/periodic.js';
import type { Traffic } from '../gateway/traffic.js';
import type { ReplicaState } from '../contract/runtime.js';
import type { MetricPoint } from '../store/metric-store.js';
import type { Store } from '../store/store.js';

/** The resolution of the history: one point per deployment per interval. */
export const INTERVAL_MS = 10_000;
/** How long points are kept; older ones are deleted at each sample. */
const RETENTION_MS = 24 * 3600_000;

export interface MetricsHistoryOptions {
  store: Store;
  traffic: Traffic;
  /** What runs now, per deployment (the runtime's observation). */
  observe(deploymentId: string): ReplicaState[];
  clock: Clock;
  log?: (msg: string, fields: object) => void;
}

interface QueueInterval {
  done: number;
  latencyMs: number;
}

/**
 * Keeps each deployment's metrics every 10 s in the store for a day: gateway requests and their
 * p50/p99 latency, requests in flight, ready and desired replicas, its queue's depth, finished
 * jobs and their latency, and the autoscaler's decisions. A deployment with nothing to show in
 * an interval (no replicas, no traffic, no jobs) gets no point, so idle deployments cost nothing.
 */
export class MetricsHistory {
  private stopTimer = () => {};
  private sampling: Promise<void> | null = null;
  private readonly decisions = new Map<string, string>();
  /** Jobs finished this interval per `<project id>/<queue>`. */
  private readonly jobs = new Map<string, QueueInterval>();

  constructor(private readonly o: MetricsHistoryOptions) {}

  start() {
    const failed = (err: Error) => this.o.log?.('metrics history sample failed', { error: err.message });
    this.stopTimer = every(this.o.clock, INTERVAL_MS, () => this.sample(), failed);
  }

  async stop() {
    this.stopTimer();
    await this.sampling;
  }

  /** The autoscaler changed a deployment's desired replicas; shown on the interval's point. */
  decided(deploymentId: string, text: string) {
    this.decisions.set(deploymentId, text);
  }

  /** A worker ended a job of a queue. */
  jobFinished(projectId: string, queue: string, latencyMs: number) {
    const key = `${projectId}/${queue}`;
    const q = this.jobs.get(key) ?? { done: 0, latencyMs: 0 };
    q.done++;
    q.latencyMs += latencyMs;
    this.jobs.set(key, q);
  }

  /** Records the interval that just ended for every deployment with something to show, and drops expired points. */
  async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = (async () => {
      const now = this.o.clock.nowMs();
      const at = Math.floor(now / INTERVAL_MS) * INTERVAL_MS - INTERVAL_MS;
      // Only deployments with replicas, jobs, traffic or a decision can have a point to record.
      const busy = [...new Set([...this.o.traffic.deploymentIds(), ...this.decisions.keys()])];
      const [deployments, counts] = await Promise.all([this.o.store.listBusyDeployments(busy, { autoscaledOnly: false }), this.o.store.jobs.activeCounts()]);
      const active = new Map<string, { pending: number; running: number }>();
      for (const c of counts) {
        const key = `${c.project_id}/${c.model}`;
        const q = active.get(key) ?? { pending: 0, running: 0 };
        if (c.status === 'pending') q.pending = c.n;
        else q.running = c.n;
        active.set(key, q);
      }
      const points: MetricPoint[] = [];
      for (const d of deployments) {
        const key = `${d.project_id}/${d.name}`;
        const traffic = this.o.traffic.takeSample(d.id);
        const queue = active.get(key) ?? { pending: 0, running: 0 };
        const jobs = this.jobs.get(key);
        const decision = this.decisions.get(d.id) ?? null;
        const ready = this.o.observe(d.id).filter((r) => r.readySince).length;
        const nothing = traffic.count === 0 && traffic.peakInFlight === 0 && ready === 0 && d.desired_replicas === 0;
        if (nothing && !jobs && !decision && queue.pending + queue.running === 0) continue;
        const sorted = traffic.durationsMs.sort((a, b) => a - b);
        points.push({
          deployment_id: d.id,
          at,
          requests: traffic.count,
          p50_ms: percentile(sorted, 0.5),
          p99_ms: percentile(sorted, 0.99),
          in_flight: traffic.peakInFlight,
          ready,
          desired: d.desired_replicas,
          queue_pending: queue.pending,
          queue_running: queue.running,
          jobs_done: jobs?.done ?? 0,
          job_latency_ms: jobs ? round(jobs.latencyMs / jobs.done) : null,
          decision,
        });
      }
      this.decisions.clear();
      this.jobs.clear();
      await this.o.store.metrics.record(points);
      await this.o.store.metrics.dropBefore(now - RETENTION_MS);
    })().finally(() => (this.sampling = null));
    await this.sampling;
  }
}

/** Nearest-rank percentile of sorted values; null when there are none. */
function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
}

const round = (ms: number) => Math.round(ms * 10) / 10;
