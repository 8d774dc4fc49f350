import { errors } from '../contract/errors.js';
import type { JobView, StatusReportBody, SubmitBody } from '../contract/schemas/queue.js';
import type { Clock } from '../domain/clock.js';
import type { IdSource } from '../domain/ids.js';
import type { JobRecord, JobStatus } from '../contract/records.js';
import type { Store } from '../store/store.js';
import type { Claim, Finish } from '../store/job-store.js';
import { Batcher } from '../domain/batcher.js';
import { Waiters } from './waiters.js';
import { every } from '../domain/periodic.js';
import type { Caller } from '../contract/ports.js';

/** A claim whose worker sent no status update this often goes back to the queue; the fourth time it fails. */
const MAX_RETRIES = 3;
/** The longest long-poll a worker may ask for. */
const MAX_WAIT_MS = 60_000;
/**
 * A waiting worker looks at the queue again at least this often even without a wake-up: a
 * wake-up from another instance (PostgreSQL NOTIFY) may be lost while its listener reconnects.
 */
const RECHECK_MS = 1_000;
/** `info` is merged JSON kept with the job; more than this is refused. */
const MAX_INFO_BYTES = 64 * 1024;

export interface RetrieveParams {
  model: string;
  waitMs: number;
  hostname: string;
  /** Seconds without a status update before the claim lapses; null: held until the worker reports. */
  claimTimeoutS: number | null;
}

export interface JobQueueOptions {
  store: Store;
  clock: Clock;
  ids: IdSource;
  /**
   * The id of the deployment named `model` in the project, or undefined (a 404). The store by
   * default; `gantry serve` asks the routing table first, which knows every running deployment.
   */
  deploymentOf?(projectId: string, name: string): Promise<string | undefined>;
  /**
   * Tells every instance's waiting workers that a queue has a claimable job (`gantry serve`
   * sends it on the bus, which calls `wakeWaiters` on each); this instance's only, without one.
   */
  announce?(key: string): void;
  sweepMs?: number;
  /** How long a finished job (done, failed, canceled) is kept, then deleted; 0 keeps them for good. Default 7 days, like Modal's results. */
  retentionMs?: number;
  log?: (msg: string, fields: object) => void;
}

export const DEFAULT_JOB_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** Rows one DELETE removes: small enough not to hold the database long, on either engine. */
const RETENTION_BATCH = 1000;
/** The retention sweep runs at most this often (the claim sweep runs every second). */
const RETENTION_EVERY_MS = 60_000;

/**
 * Together's job queue over the store: clients submit, status, cancel and clear; workers
 * long-poll for the next job (strict priority, FIFO within one) and report progress, results
 * or failure. A worker already waiting is woken by a submit, not found by polling. Claims that
 * are not refreshed within their timeout go back to the queue (retries + 1) and fail for good
 * after MAX_RETRIES; every job ends in exactly one of done, failed or canceled.
 */
export class JobQueue {
  private readonly waiters: Waiters;
  private readonly submitListeners: ((deploymentId: string) => void)[] = [];
  private readonly finishListeners: ((projectId: string, model: string, latencyMs: number) => void)[] = [];
  // Submits, claims (per queue) and ends of jobs are written in batches (group commit): one
  // statement per batch instead of one per job, the same code whether one worker waits or many.
  private readonly inserts: Batcher<JobRecord, undefined>;
  private readonly claims = new Map<string, Batcher<Claim, JobRecord | undefined>>();
  private readonly finishes: Batcher<Finish, JobRecord | undefined>;
  private stopTimer = () => {};
  private sweeping: Promise<void> | null = null;
  private lastRetention = 0;

  constructor(private readonly o: JobQueueOptions) {
    this.waiters = new Waiters(o.clock);
    this.inserts = new Batcher(async (jobs) => {
      await o.store.jobs.insertMany(jobs);
      return jobs.map(() => undefined);
    });
    this.finishes = new Batcher((reports) => o.store.jobs.finishMany(reports));
  }

  /** Starts the sweep that returns lapsed claims to the queue (and once at once: claims that lapsed while Gantry was down). */
  start() {
    const failed = (err: Error) => this.o.log?.('queue sweep failed', { error: err.message });
    void this.sweep().catch(failed);
    this.stopTimer = every(this.o.clock, this.o.sweepMs ?? 1000, () => this.sweep(), failed);
  }

  async stop() {
    this.stopTimer();
    await this.sweeping;
  }

  /** Called with the deployment's id for each submitted job (the autoscaler wakes a deployment at zero). */
  onSubmit(listener: (deploymentId: string) => void) {
    this.submitListeners.push(listener);
  }

  /** Called when a worker ends a job (done or failed), with its time from submit to end (the metrics history charts it). */
  onFinished(listener: (projectId: string, model: string, latencyMs: number) => void): () => void {
    this.finishListeners.push(listener);
    return () => this.finishListeners.splice(this.finishListeners.indexOf(listener), 1);
  }

  /** Wakes this instance's workers waiting on a queue (`project/model`): it has `count` new claimable jobs. */
  wakeWaiters(key: string, count = 1) {
    this.waiters.notify(key, count);
  }

  async submit(caller: Caller, body: SubmitBody): Promise<{ requestId: string }> {
    const deploymentId = await this.deployment(caller, body.model);
    const now = this.o.clock.now();
    const id = this.o.ids.uuidv7();
    await this.inserts.add({
      id,
      project_id: caller.projectId,
      model: body.model,
      status: 'pending',
      priority: body.priority ?? 0,
      payload: JSON.stringify(body.payload),
      info: infoText(body.info ?? {}),
      outputs: null,
      retries: 0,
      claimed_by: null,
      claim_timeout_s: null,
      claim_expires_at: null,
      created_at: now.toISOString(),
      claimed_at: null,
      done_at: null,
    });
    this.announce(keyOf(caller.projectId, body.model));
    for (const l of this.submitListeners) l(deploymentId);
    return { requestId: id };
  }

  /** A queue's latest jobs, newest first. */
  async latest(caller: Caller, q: { model: string; status?: JobStatus; limit?: number }): Promise<JobView[]> {
    await this.deployment(caller, q.model);
    return (await this.o.store.jobs.latest(caller.projectId, q.model, q.status, q.limit ?? 50)).map(render);
  }

  async status(caller: Caller, model: string, requestId: string): Promise<JobView> {
    return render(await this.job(caller, model, requestId));
  }

  /** Cancels a pending job; any other job's status comes back unchanged with `canceled: false`. */
  async cancel(caller: Caller, model: string, requestId: string): Promise<{ canceled: boolean; status: JobStatus }> {
    const job = await this.job(caller, model, requestId);
    if (job.status === 'pending' && (await this.o.store.jobs.cancel(job.id, this.o.clock.now().toISOString()))) return { canceled: true, status: 'canceled' };
    // Not pending, or claimed a moment ago: say what it is now.
    const now = await this.job(caller, model, requestId);
    return { canceled: false, status: now.status };
  }

  async clear(caller: Caller, model: string): Promise<{ canceled_count: number }> {
    await this.deployment(caller, model);
    return { canceled_count: await this.o.store.jobs.clear(caller.projectId, model, this.o.clock.now().toISOString()) };
  }

  async metrics(caller: Caller, model: string) {
    await this.deployment(caller, model);
    const counts = await this.o.store.jobs.activeCounts({ projectId: caller.projectId, model });
    const of = (s: JobStatus) => counts.find((c) => c.status === s)?.n ?? 0;
    const waiting = of('pending');
    const running = of('running');
    return { messages_running: running, messages_waiting: waiting, total_jobs: waiting + running };
  }

  /** Pending plus running jobs per queue (`<project id>/<model>`), for the autoscaler. */
  async depths(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const c of await this.o.store.jobs.activeCounts()) {
      const key = keyOf(c.project_id, c.model);
      out.set(key, (out.get(key) ?? 0) + c.n);
    }
    return out;
  }

  /** A worker's long poll: the next job, claimed for it, or null once `waitMs` passed (or the worker left). */
  async retrieve(caller: Caller, p: RetrieveParams, signal: AbortSignal): Promise<(JobView & { payload: Record<string, unknown> }) | null> {
    await this.deployment(caller, p.model);
    const key = keyOf(caller.projectId, p.model);
    const deadline = this.o.clock.nowMs() + Math.min(p.waitMs, MAX_WAIT_MS);
    for (;;) {
      const seen = this.waiters.version(key);
      const job = await this.claimer(caller.projectId, p.model).add({ hostname: p.hostname, timeoutS: p.claimTimeoutS, atMs: this.o.clock.nowMs() });
      if (job) {
        // The worker went away while its claim was being made: the job goes straight back.
        if (signal.aborted) await this.release(job);
        else {
          const view = render(job);
          return { ...view, payload: view.inputs };
        }
      }
      const left = deadline - this.o.clock.nowMs();
      if (left <= 0 || signal.aborted) return null;
      await this.waiters.wait(key, seen, Math.min(left, RECHECK_MS), signal);
    }
  }

  /**
   * A worker's report on a job it holds: `running` refreshes the claim (a heartbeat) and merges
   * `info`; `done` stores `payload` as the outputs; `failed` ends it for good (never retried).
   */
  async report(caller: Caller, r: StatusReportBody): Promise<JobView> {
    if (r.status !== 'running' && isEmpty(r.info)) {
      // The usual end of a job (Together's worker sends info only with a failure): one batched
      // UPDATE, no read first. A job that was not running in that queue takes the path below,
      // which says why.
      await this.deployment(caller, r.model);
      const outputs = r.status === 'done' ? JSON.stringify(r.payload ?? {}) : null;
      const now = this.o.clock.now();
      const job = await this.finishes.add({
        id: r.request_id,
        project_id: caller.projectId,
        model: r.model,
        status: r.status,
        outputs,
        done_at: now.toISOString(),
      });
      if (job) return this.finished(job, now.getTime());
    }
    const job = await this.job(caller, r.model, r.request_id);
    if (job.status !== 'running') throw notRunning(job);
    const info = infoText({ ...parse(job.info), ...(r.info ?? {}) });
    const now = this.o.clock.now();
    const jobs = this.o.store.jobs;
    if (r.status === 'running') {
      const expiresAt = job.claim_timeout_s === null ? null : now.getTime() + job.claim_timeout_s * 1000;
      if (await jobs.refresh(job.id, info, expiresAt)) return render({ ...job, info });
    } else {
      const outputs = r.status === 'done' ? JSON.stringify(r.payload ?? {}) : null;
      const doneAt = now.toISOString();
      if (await jobs.finish(job.id, r.status, info, outputs, doneAt))
        return this.finished({ ...job, status: r.status, info, outputs, done_at: doneAt }, now.getTime());
    }
    // Moved between the read and the write (the claim lapsed, or another report ended it).
    throw notRunning(await this.job(caller, r.model, r.request_id));
  }

  private finished(job: JobRecord, atMs: number): JobView {
    for (const l of this.finishListeners) l(job.project_id, job.model, atMs - Date.parse(job.created_at));
    return render(job);
  }

  /** The batcher of claims on one queue (one per queue, kept like the waiters). */
  private claimer(projectId: string, model: string) {
    const key = keyOf(projectId, model);
    let batcher = this.claims.get(key);
    if (!batcher) {
      // At most 64 at once: each batch size is a statement of its own (claimMany).
      batcher = new Batcher((claims) => this.o.store.jobs.claimMany(projectId, model, claims, this.o.clock.now().toISOString()), 64);
      this.claims.set(key, batcher);
    }
    return batcher;
  }

  /** Returns lapsed claims to the queue, or fails them after MAX_RETRIES. */
  async sweep() {
    if (this.sweeping) return this.sweeping;
    this.sweeping = (async () => {
      const now = this.o.clock.now();
      for (const job of await this.o.store.jobs.expiredClaims(now.getTime())) {
        if (job.retries >= MAX_RETRIES) {
          const error = `the worker's claim lapsed ${job.retries + 1} times (no status update within claim_timeout ${job.claim_timeout_s} s); not retried again`;
          if (await this.o.store.jobs.failExpired(job, infoText({ ...parse(job.info), error }), now.toISOString())) {
            this.o.log?.('queue job failed: claim lapsed', { request_id: job.id, model: job.model, retries: job.retries });
          }
        } else if (await this.o.store.jobs.requeue(job)) {
          this.o.log?.('queue job returned to the queue: claim lapsed', { request_id: job.id, model: job.model, retries: job.retries + 1 });
          this.announce(keyOf(job.project_id, job.model));
        }
      }
      await this.deleteExpired(now.getTime());
    })().finally(() => (this.sweeping = null));
    return this.sweeping;
  }

  /** Deletes jobs that ended more than the retention ago, in batches, at most once a minute. */
  private async deleteExpired(nowMs: number) {
    const retention = this.o.retentionMs ?? DEFAULT_JOB_RETENTION_MS;
    if (retention === 0 || nowMs - this.lastRetention < RETENTION_EVERY_MS) return;
    this.lastRetention = nowMs;
    const before = new Date(nowMs - retention).toISOString();
    let deleted = 0;
    let n: number;
    do {
      n = await this.o.store.jobs.deleteFinished(before, RETENTION_BATCH);
      deleted += n;
    } while (n === RETENTION_BATCH);
    if (deleted > 0) this.o.log?.('finished jobs past their retention deleted', { deleted, before });
  }

  private async release(job: JobRecord) {
    await this.o.store.jobs.unclaim(job.id);
    this.announce(keyOf(job.project_id, job.model));
  }

  private announce(key: string) {
    if (this.o.announce) this.o.announce(key);
    else this.waiters.notify(key);
  }

  private async deployment(caller: Caller, model: string): Promise<string> {
    const id = await (this.o.deploymentOf ? this.o.deploymentOf(caller.projectId, model) : this.o.store.findDeploymentIdByName(caller.projectId, model));
    if (!id) throw errors.notFound('Deployment', model);
    if (caller.deploymentId && caller.deploymentId !== id) throw errors.forbidden(`this worker key belongs to another deployment, not to '${model}'`);
    return id;
  }

  private async job(caller: Caller, model: string, requestId: string): Promise<JobRecord> {
    await this.deployment(caller, model);
    const job = await this.o.store.jobs.get(caller.projectId, model, requestId);
    if (!job) throw errors.notFound('Request', requestId);
    return job;
  }
}

export const keyOf = (projectId: string, model: string) => `${projectId}/${model}`;

function notRunning(job: JobRecord) {
  return errors.conflict(`request ${job.id} is ${job.status}, not running: only a running job takes status updates`, 'job_not_running');
}

const isEmpty = (info: Record<string, unknown> | undefined) => !info || Object.keys(info).length === 0;

function parse(text: string): Record<string, unknown> {
  return JSON.parse(text) as Record<string, unknown>;
}

function infoText(info: Record<string, unknown>): string {
  const text = JSON.stringify(info);
  if (Buffer.byteLength(text) > MAX_INFO_BYTES) throw errors.invalid('info', `info must stay under ${MAX_INFO_BYTES} bytes of JSON`);
  return text;
}

function render(j: JobRecord): JobView {
  return {
    request_id: j.id,
    model: j.model,
    status: j.status,
    priority: j.priority,
    retries: j.retries,
    created_at: j.created_at,
    ...(j.claimed_at ? { claimed_at: j.claimed_at } : {}),
    ...(j.done_at ? { done_at: j.done_at } : {}),
    inputs: parse(j.payload),
    ...(j.outputs !== null ? { outputs: parse(j.outputs) } : {}),
    info: parse(j.info),
    warnings: [],
  };
}
