import type { Database, Executor } from './executor.js';
import type { JobRecord, JobStatus } from '../contract/records.js';
import { ownedBy } from './owned-by.js';

/** A claim handed to a worker. */
export interface Claim {
  hostname: string;
  /** Seconds without a status update before the job goes back to the queue; null: never. */
  timeoutS: number | null;
  atMs: number;
}

/** A report that ends a job and leaves its info as it was. */
export interface Finish {
  id: string;
  project_id: string;
  model: string;
  status: 'done' | 'failed';
  outputs: string | null;
  done_at: string;
}

type ColumnType = 'text' | 'integer' | 'bigint';

const JOB_TYPES: Record<keyof JobRecord, ColumnType> = {
  id: 'text',
  project_id: 'text',
  model: 'text',
  status: 'text',
  priority: 'integer',
  payload: 'text',
  info: 'text',
  outputs: 'text',
  retries: 'integer',
  claimed_by: 'text',
  claim_timeout_s: 'integer',
  claim_expires_at: 'bigint',
  created_at: 'text',
  claimed_at: 'text',
  done_at: 'text',
};
const JOB_COLUMNS = Object.keys(JOB_TYPES);
/** A batch's changed rows, named column by column: SQLite's RETURNING takes no `jobs.*` beside a FROM. */
const RETURNING_JOBS = JOB_COLUMNS.map((c) => `jobs.${c}`).join(', ');
const CLAIM_TYPES: Record<string, ColumnType> = { n: 'bigint', hostname: 'text', timeout_s: 'integer', expires_at: 'bigint' };
const FINISH_TYPES: Record<keyof Finish, ColumnType> = { id: 'text', project_id: 'text', model: 'text', status: 'text', outputs: 'text', done_at: 'text' };

/**
 * The queue's SQL. Every change of status is one conditional UPDATE on the status it expects,
 * so two writers can never both move a job (a job reaches exactly one terminal state). On
 * PostgreSQL a claim skips rows another transaction has locked (`FOR UPDATE SKIP LOCKED`),
 * so several Gantry instances can hand out one queue's jobs without waiting on each other.
 */
export class JobStore {
  constructor(
    private readonly ex: Executor,
    private readonly dialect: Database['dialect'],
  ) {}

  /** Stores jobs (a batch of submits: one statement for all of them). */
  async insertMany(jobs: JobRecord[]): Promise<void> {
    await this.ex.run(
      `INSERT INTO jobs (${JOB_COLUMNS.join(', ')})
       SELECT ${JOB_COLUMNS.map((c) => `r.${c}`).join(', ')} FROM ${this.rows('$1', 'r', JOB_TYPES)}`,
      [JSON.stringify(jobs)],
    );
  }

  /** A job of the project by its request id, whichever queue it is in. */
  async findById(projectId: string, id: string): Promise<JobRecord | undefined> {
    return ownedBy(projectId, await this.ex.get<JobRecord>('SELECT * FROM jobs WHERE id = $1', [id]));
  }

  /** A queue's latest jobs (of one status when given), newest first: ids are UUIDv7, so they sort by submit time. */
  latest(projectId: string, model: string, status: JobStatus | undefined, limit: number): Promise<JobRecord[]> {
    const byStatus = status ? ' AND status = $4' : '';
    return this.ex.all<JobRecord>(
      `SELECT * FROM jobs WHERE project_id = $1 AND model = $2${byStatus} ORDER BY id DESC LIMIT $3`,
      status ? [projectId, model, limit, status] : [projectId, model, limit],
    );
  }

  async get(projectId: string, model: string, id: string): Promise<JobRecord | undefined> {
    const job = await this.findById(projectId, id);
    return job?.model === model ? job : undefined;
  }

  /**
   * Takes the next pending jobs (highest priority, then oldest) for a batch of claims, in one
   * statement: the first claim gets the first job, and so on; claims past the queue's end get
   * none. (The rows come back in no set order; sorted as they were picked, the i-th is the
   * i-th claim's, which SQLite needs: its RETURNING cannot name the claims' side of the join.)
   * The LIMIT is written into the SQL, one statement per batch size: bound as a parameter,
   * SQLite took three times as long.
   */
  async claimMany(projectId: string, model: string, claims: Claim[], atIso: string): Promise<(JobRecord | undefined)[]> {
    const skipLocked = this.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
    const rows = claims.map((c, i) => ({
      n: i + 1,
      hostname: c.hostname,
      timeout_s: c.timeoutS,
      expires_at: c.timeoutS === null ? null : c.atMs + c.timeoutS * 1000,
    }));
    const jobs = await this.ex.all<JobRecord>(
      `UPDATE jobs SET status = 'running', claimed_by = c.hostname, claim_timeout_s = c.timeout_s, claim_expires_at = c.expires_at, claimed_at = $3
        FROM (SELECT id, row_number() OVER (ORDER BY priority DESC, id) AS n
                FROM (SELECT id, priority FROM jobs WHERE project_id = $1 AND model = $2 AND status = 'pending'
                       ORDER BY priority DESC, id LIMIT ${claims.length}${skipLocked}) picked) p
        JOIN ${this.rows('$4', 'c', CLAIM_TYPES)} ON c.n = p.n
        WHERE jobs.id = p.id
        RETURNING ${RETURNING_JOBS}`,
      [projectId, model, atIso, JSON.stringify(rows)],
    );
    jobs.sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : 1));
    return claims.map((_, i) => jobs[i]);
  }

  /** A heartbeat of a running job: new info, claim extended. False if the job is not running. */
  async refresh(id: string, info: string, expiresAt: number | null): Promise<boolean> {
    return (await this.ex.run(`UPDATE jobs SET info = $2, claim_expires_at = $3 WHERE id = $1 AND status = 'running'`, [id, info, expiresAt])) > 0;
  }

  /** Ends a running job (done or failed) whose info has changed. False if it was not running any more. */
  async finish(id: string, status: 'done' | 'failed', info: string, outputs: string | null, atIso: string): Promise<boolean> {
    return (
      (await this.ex.run(`UPDATE jobs SET status = $2, info = $3, outputs = $4, done_at = $5, claim_expires_at = NULL WHERE id = $1 AND status = 'running'`, [
        id,
        status,
        info,
        outputs,
        atIso,
      ])) > 0
    );
  }

  /**
   * Ends running jobs of a batch of reports that leave `info` as it is, in one statement,
   * without reading them first. Answers each job as it is now, or undefined where the job
   * was not running in that queue (the caller reads it to say why). An id twice in a batch is
   * ended by its first report only.
   */
  async finishMany(reports: Finish[]): Promise<(JobRecord | undefined)[]> {
    const seen = new Set<string>();
    const first = reports.filter((r) => !seen.has(r.id) && seen.add(r.id));
    const jobs = await this.ex.all<JobRecord>(
      `UPDATE jobs SET status = f.status, outputs = f.outputs, done_at = f.done_at, claim_expires_at = NULL
        FROM ${this.rows('$1', 'f', FINISH_TYPES)}
        WHERE jobs.id = f.id AND jobs.project_id = f.project_id AND jobs.model = f.model AND jobs.status = 'running'
        RETURNING ${RETURNING_JOBS}`,
      [JSON.stringify(first)],
    );
    const byId = new Map(jobs.map((j) => [j.id, j]));
    return reports.map((r) => {
      const job = byId.get(r.id);
      byId.delete(r.id);
      return job;
    });
  }

  /**
   * A JSON array parameter as a table of typed columns, so a batch is one statement with one
   * parameter (and one prepared statement) whatever its size.
   */
  private rows(param: string, alias: string, types: Record<string, ColumnType>): string {
    if (this.dialect === 'postgres') {
      return `json_to_recordset(${param}::json) AS ${alias}(${Object.entries(types)
        .map(([c, t]) => `${c} ${t}`)
        .join(', ')})`;
    }
    return `(SELECT ${Object.keys(types)
      .map((c) => `value->>'${c}' AS ${c}`)
      .join(', ')} FROM json_each(${param})) AS ${alias}`;
  }

  /** Deletes up to `limit` jobs that ended before `beforeIso`; answers how many it deleted. */
  async deleteFinished(beforeIso: string, limit: number): Promise<number> {
    return this.ex.run(
      `DELETE FROM jobs WHERE id IN (
         SELECT id FROM jobs WHERE status IN ('done', 'failed', 'canceled') AND done_at < $1 ORDER BY done_at LIMIT $2)`,
      [beforeIso, limit],
    );
  }

  /** Cancels a pending job. False if it was not pending. */
  async cancel(id: string, atIso: string): Promise<boolean> {
    return (await this.ex.run(`UPDATE jobs SET status = 'canceled', done_at = $2 WHERE id = $1 AND status = 'pending'`, [id, atIso])) > 0;
  }

  /** Cancels every pending job of a queue; answers how many. */
  clear(projectId: string, model: string, atIso: string): Promise<number> {
    return this.ex.run(`UPDATE jobs SET status = 'canceled', done_at = $3 WHERE project_id = $1 AND model = $2 AND status = 'pending'`, [
      projectId,
      model,
      atIso,
    ]);
  }

  /** Pending and running jobs per queue (only queues that have any); of one queue when given. */
  async activeCounts(queue?: { projectId: string; model: string }): Promise<{ project_id: string; model: string; status: JobStatus; n: number }[]> {
    const where = queue ? ' AND project_id = $1 AND model = $2' : '';
    const rows = await this.ex.all<{ project_id: string; model: string; status: JobStatus; n: number | string }>(
      `SELECT project_id, model, status, COUNT(*) AS n FROM jobs WHERE status IN ('pending', 'running')${where} GROUP BY project_id, model, status`,
      queue ? [queue.projectId, queue.model] : [],
    );
    return rows.map((r) => ({ ...r, n: Number(r.n) }));
  }

  /** Running jobs whose claim ran out by `nowMs`. */
  expiredClaims(nowMs: number): Promise<JobRecord[]> {
    return this.ex.all<JobRecord>(`SELECT * FROM jobs WHERE status = 'running' AND claim_expires_at < $1 ORDER BY claim_expires_at LIMIT 1000`, [nowMs]);
  }

  /** Puts a job whose claim ran out back in the queue, once more tried. False if it moved meanwhile. */
  async requeue(job: JobRecord): Promise<boolean> {
    return (
      (await this.ex.run(
        `UPDATE jobs SET status = 'pending', retries = retries + 1, claimed_by = NULL, claim_expires_at = NULL, claimed_at = NULL
          WHERE id = $1 AND status = 'running' AND claim_expires_at = $2`,
        [job.id, Number(job.claim_expires_at)],
      )) > 0
    );
  }

  /** Gives back a claim no worker received (it left while the claim was made); not a retry. */
  async unclaim(id: string): Promise<void> {
    await this.ex.run(
      `UPDATE jobs SET status = 'pending', claimed_by = NULL, claim_expires_at = NULL, claimed_at = NULL WHERE id = $1 AND status = 'running'`,
      [id],
    );
  }

  /** Fails a job whose claim ran out once too often. False if it moved meanwhile. */
  async failExpired(job: JobRecord, info: string, atIso: string): Promise<boolean> {
    return (
      (await this.ex.run(
        `UPDATE jobs SET status = 'failed', info = $3, done_at = $4, claim_expires_at = NULL WHERE id = $1 AND status = 'running' AND claim_expires_at = $2`,
        [job.id, Number(job.claim_expires_at), info, atIso],
      )) > 0
    );
  }
}
