import type { Executor } from './executor.js';

/** One replica running during one minute, at the price of its hardware then. */
export interface UsageMinute {
  replica_id: string;
  /** ISO time of the minute's start, e.g. 2026-11-22T10:31:00.000Z. */
  minute: string;
  project_id: string;
  deployment_id: string;
  deployment_name: string;
  endpoint_id: string | null;
  endpoint_name: string | null;
  hardware: string;
  cents_per_minute: number;
}

/** Minutes and cost of one deployment on one hardware configuration over a time range. */
export interface UsageLine {
  deployment_id: string;
  deployment_name: string;
  endpoint_id: string | null;
  endpoint_name: string | null;
  hardware: string;
  replica_minutes: number;
  cost_cents: number;
}

const COLUMNS = [
  'replica_id',
  'minute',
  'project_id',
  'deployment_id',
  'deployment_name',
  'endpoint_id',
  'endpoint_name',
  'hardware',
  'cents_per_minute',
] as const;

/** The SQL of metered usage. */
export class UsageStore {
  constructor(private readonly ex: Executor) {}

  /** Records minutes; a minute already recorded for a replica (another sample, another instance) is kept as it was. */
  async record(rows: readonly UsageMinute[]): Promise<void> {
    if (rows.length === 0) return;
    const values = rows.map((_, r) => `(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(', ')})`);
    await this.ex.run(
      `INSERT INTO usage_minutes (${COLUMNS.join(', ')}) VALUES ${values.join(', ')} ON CONFLICT (replica_id, minute) DO NOTHING`,
      rows.flatMap((row) => COLUMNS.map((c) => row[c])),
    );
  }

  /** A project's usage in minutes starting in [from, to), per deployment and hardware. */
  async lines(projectId: string, fromIso: string, toIso: string): Promise<UsageLine[]> {
    // Grouped by id: a deployment renamed meanwhile is one line (under either of its metered names).
    const rows = await this.ex.all<UsageLine & { replica_minutes: number | string; cost_cents: number | string }>(
      `SELECT deployment_id, MAX(deployment_name) AS deployment_name, endpoint_id, MAX(endpoint_name) AS endpoint_name, hardware,
              COUNT(*) AS replica_minutes, SUM(cents_per_minute) AS cost_cents
         FROM usage_minutes
        WHERE project_id = $1 AND minute >= $2 AND minute < $3
        GROUP BY deployment_id, endpoint_id, hardware
        ORDER BY MIN(minute), deployment_id, hardware`,
      [projectId, fromIso, toIso],
    );
    return rows.map((r) => ({ ...r, replica_minutes: Number(r.replica_minutes), cost_cents: Number(r.cost_cents) }));
  }

  /**
   * A project's usage in [from, to) per time bucket and per endpoint (or deployment, when not an
   * endpoint's): `prefix` is how many characters of the ISO minute name the bucket (13: an hour, 10: a day).
   */
  async buckets(projectId: string, fromIso: string, toIso: string, prefix: 10 | 13): Promise<UsageBucketLine[]> {
    const rows = await this.ex.all<UsageBucketLine & { replica_minutes: number | string; cost_cents: number | string }>(
      `SELECT SUBSTR(minute, 1, ${prefix}) AS bucket, COALESCE(endpoint_id, deployment_id) AS id,
              COUNT(*) AS replica_minutes, SUM(cents_per_minute) AS cost_cents
         FROM usage_minutes
        WHERE project_id = $1 AND minute >= $2 AND minute < $3
        GROUP BY SUBSTR(minute, 1, ${prefix}), COALESCE(endpoint_id, deployment_id)
        ORDER BY bucket, id`,
      [projectId, fromIso, toIso],
    );
    return rows.map((r) => ({ ...r, replica_minutes: Number(r.replica_minutes), cost_cents: Number(r.cost_cents) }));
  }
}

/** Minutes and cost of one endpoint or deployment in one time bucket. */
export interface UsageBucketLine {
  /** The bucket's start as a prefix of an ISO time: 2026-11-22 (a day) or 2026-11-22T10 (an hour). */
  bucket: string;
  id: string;
  replica_minutes: number;
  cost_cents: number;
}
