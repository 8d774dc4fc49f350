import type { Executor } from './executor.js';

/** A deployment's metrics over one 10-second interval starting at `at` (epoch ms). */
export interface MetricPoint {
  deployment_id: string;
  at: number;
  /** Requests the gateway finished in the interval. */
  requests: number;
  /** Their latency percentiles; null without requests. */
  p50_ms: number | null;
  p99_ms: number | null;
  /** The most requests in flight at once during the interval. */
  in_flight: number;
  ready: number;
  desired: number;
  queue_pending: number;
  queue_running: number;
  /** Jobs that ended in the interval, and their mean time from submit to end. */
  jobs_done: number;
  job_latency_ms: number | null;
  /** The autoscaler's last decision in the interval ("1 → 3: …"), if it made one. */
  decision: string | null;
}

const COLUMNS = [
  'deployment_id',
  'at',
  'requests',
  'p50_ms',
  'p99_ms',
  'in_flight',
  'ready',
  'desired',
  'queue_pending',
  'queue_running',
  'jobs_done',
  'job_latency_ms',
  'decision',
] as const;
/** Rows per INSERT: well under SQLite's 32,766 bound parameters. */
const BATCH = 500;

/** The SQL of the metrics history. */
export class MetricStore {
  constructor(private readonly ex: Executor) {}

  /** Records points; an interval already recorded for a deployment keeps its first row. */
  async record(points: readonly MetricPoint[]): Promise<void> {
    for (let i = 0; i < points.length; i += BATCH) {
      const rows = points.slice(i, i + BATCH);
      const values = rows.map((_, r) => `(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(', ')})`);
      await this.ex.run(
        `INSERT INTO metric_points (${COLUMNS.join(', ')}) VALUES ${values.join(', ')} ON CONFLICT (deployment_id, at) DO NOTHING`,
        rows.flatMap((p) => COLUMNS.map((c) => p[c])),
      );
    }
  }

  /** A deployment's points from `fromMs` on, oldest first. */
  async series(deploymentId: string, fromMs: number): Promise<MetricPoint[]> {
    const rows = await this.ex.all<MetricPoint>(`SELECT * FROM metric_points WHERE deployment_id = $1 AND at >= $2 ORDER BY at`, [deploymentId, fromMs]);
    // PostgreSQL answers BIGINT as a string.
    return rows.map((r) => ({ ...r, at: Number(r.at) }));
  }

  /** Deletes points older than `beforeMs`; answers how many. */
  dropBefore(beforeMs: number): Promise<number> {
    return this.ex.run('DELETE FROM metric_points WHERE at < $1', [beforeMs]);
  }
}
