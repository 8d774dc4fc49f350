import type { Database, Executor } from './executor.js';
import type { JobRecord, JobStatus } from '../contract/records.js';

/** A claim handed to a worker. */
export interface Claim {
  hostname: string;
  /** Seconds without a status update before the job goes back to the queue; null: never. */
  timeoutS: number | null;
  atIso: string;
  atMs: number;
}

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

  async insert(job: JobRecord): Promise<void> {
    await this.ex.run(
      `INSERT INTO jobs (id, project_id, model, status, priority, payload, info, outputs, retries, claimed_by, claim_timeout_s, claim_expires_at, created_at, claimed_at, done_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [
        job.id,
        job.project_id,
        job.model,
        job.status,
        job.priority,
        job.payload,
        job.info,
        job.outputs,
        job.retries,
        job.claimed_by,
        job.claim_timeout_s,
        job.claim_expires_at,
        job.created_at,
        job.claimed_at,
        job.done_at,
      ],
    );
  }

  /** A job of the project by its request id, whichever queue it is in. */
  findById(projectId: string, id: string): Promise<JobRecord | undefined> {
    return this.ex.get<JobRecord>('SELECT * FROM jobs WHERE id = $1 AND project_id = $2', [id, projectId]);
  }

  /** A queue's latest jobs (of one status when given), newest first: ids are UUIDv7, so they sort by submit time. */
  latest(projectId: string, model: string, status: JobStatus | undefined, limit: number): Promise<JobRecord[]> {
    const byStatus = status ? ' AND status = $4' : '';
    return this.ex.all<JobRecord>(
      `SELECT * FROM jobs WHERE project_id = $1 AND model = $2${byStatus} ORDER BY id DESC LIMIT $3`,
      status ? [projectId, model, limit, status] : [projectId, model, limit],
    );
  }

  get(projectId: string, model: string, id: string): Promise<JobRecord | undefined> {
    return this.ex.get<JobRecord>('SELECT * FROM jobs WHERE id = $1 AND project_id = $2 AND model = $3', [id, projectId, model]);
  }

  /** Takes the next pending job (highest priority, then oldest) for a worker, or none. */
  claimNext(projectId: string, model: string, claim: Claim): Promise<JobRecord | undefined> {
    const skipLocked = this.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
    return this.ex.get<JobRecord>(
      `UPDATE jobs SET status = 'running', claimed_by = $3, claim_timeout_s = $4, claim_expires_at = $5, claimed_at = $6
        WHERE id = (SELECT id FROM jobs WHERE project_id = $1 AND model = $2 AND status = 'pending'
                     ORDER BY priority DESC, id LIMIT 1${skipLocked})
        RETURNING *`,
      [projectId, model, claim.hostname, claim.timeoutS, claim.timeoutS === null ? null : claim.atMs + claim.timeoutS * 1000, claim.atIso],
    );
  }

  /** A heartbeat of a running job: new info, claim extended. False if the job is not running. */
  async refresh(id: string, info: string, expiresAt: number | null): Promise<boolean> {
    return (await this.ex.run(`UPDATE jobs SET info = $2, claim_expires_at = $3 WHERE id = $1 AND status = 'running'`, [id, info, expiresAt])) > 0;
  }

  /** Ends a running job (done or failed). False if it was not running any more. */
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
