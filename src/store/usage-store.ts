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
}
