/**
 * The job queue, in one run: Gantry's queue (src/queue/job-queue.ts) on SQLite and on
 * PostgreSQL, beside pg-boss (the most used Node.js queue on PostgreSQL) and graphile-worker
 * (the fastest, LISTEN/NOTIFY wake-ups, batched job fetches) on the same PostgreSQL server, all in
 * this process (both are libraries, so the comparison leaves HTTP out). graphile-worker 0.18's
 * package asks for Node.js 22.18; what this bench uses of it runs on Node.js 20 (npm warns):
 *
 *   - jobs/s end to end: SUBMITTERS loops submit while WORKERS loops claim and complete,
 *     for SECONDS; counted are jobs completed.
 *   - claim latency: one worker already waiting (Gantry: a long poll; pg-boss: work() with its
 *     smallest polling interval, 0.5 s), a job submitted, time until the worker has it.
 * The throwaway PostgreSQL runs with fsync off (as in `npm test`), the same for both.
 *
 *   GANTRY_BENCH_POSTGRES_URL=postgres://… node --import tsx bench/queue.ts
 * (without it, a throwaway PostgreSQL is started as in `npm test`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import { JobQueue } from '../src/queue/job-queue.js';
import { systemClock } from '../src/domain/clock.js';
import { every } from '../src/domain/periodic.js';
import { randomIds } from '../src/domain/ids.js';
import { openDatabase } from '../src/store/database.js';
import { Store } from '../src/store/store.js';
// @ts-expect-error: a plain JavaScript script shared with npm test
import { startPostgres } from '../scripts/postgres-server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WORKERS = Number(process.env.WORKERS ?? 8);
const SUBMITTERS = 4;
const LATENCY_SAMPLES = 1000;
const caller = { projectId: 'proj_bench', projectName: 'bench', keyId: 'key_bench' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

interface Subject {
  submit(): Promise<unknown>;
  /** Claims one job (waiting up to ~1 s) and completes it; false if none came. */
  work(): Promise<boolean>;
  close(): Promise<void>;
}

async function gantry(url: string) {
  const store = new Store(await openDatabase(url));
  await store.ensureProject({ id: caller.projectId, name: caller.projectName, created_at: new Date().toISOString() });
  const queue = new JobQueue({ store, clock: systemClock, ids: randomIds, deploymentOf: async () => 'dep_bench' });
  // Its sweep and the statistics refresh, as gantry serve's leader runs them.
  queue.start();
  const stopStatistics = every(
    systemClock,
    1000,
    () => store.refreshStatistics(),
    () => {},
  );
  const never = new AbortController().signal;
  const params = { model: 'bench', waitMs: 1000, hostname: 'bench', claimTimeoutS: 60 };
  return {
    submit: () => queue.submit(caller, { model: 'bench', payload: { n: 1 } }),
    async work() {
      const job = await queue.retrieve(caller, params, never);
      if (!job) return false;
      await queue.report(caller, { model: 'bench', request_id: job.request_id, status: 'done', payload: { ok: true } });
      return true;
    },
    /** Claim latency: a worker long-polls an empty queue, a job is submitted, until the worker has it. */
    async claimLatency() {
      await queue.clear(caller, 'bench');
      while (await queue.retrieve(caller, { ...params, waitMs: 0 }, never)); // what was running
      const samples: number[] = [];
      for (let i = 0; i < LATENCY_SAMPLES; i++) {
        const had = queue.retrieve(caller, { ...params, waitMs: 10_000 }, never).then((job) => ((at = performance.now()), job));
        let at = 0;
        await sleep(5); // the worker is waiting before the job exists
        const t = performance.now();
        await queue.submit(caller, { model: 'bench', payload: {} });
        const job = await had;
        samples.push(at - t);
        await queue.report(caller, { model: 'bench', request_id: job!.request_id, status: 'done', payload: {} });
      }
      return samples;
    },
    close: async () => {
      stopStatistics();
      await queue.stop();
      await store.close();
    },
  };
}

async function pgBoss(url: string): Promise<Subject> {
  const boss = new PgBoss({ connectionString: url, max: 16 });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue('bench');
  return {
    submit: () => boss.send('bench', { n: 1 }),
    async work() {
      const [job] = await boss.fetch('bench');
      if (!job) {
        await sleep(50);
        return false;
      }
      await boss.complete('bench', job.id, { ok: true });
      return true;
    },
    close: () => boss.stop({ graceful: false, wait: false }),
  };
}

async function throughput(s: Subject) {
  let stop = false;
  let done = 0;
  const until = performance.now() + SECONDS * 1000;
  // SQLite answers without I/O, so a loop of awaits would never let timers run: yield each turn.
  const submitters = Array.from({ length: SUBMITTERS }, async () => {
    while (!stop) {
      await s.submit();
      await new Promise((r) => setImmediate(r));
    }
  });
  const workers = Array.from({ length: WORKERS }, async () => {
    while (performance.now() < until) {
      if (await s.work()) done++;
      await new Promise((r) => setImmediate(r));
    }
  });
  await Promise.all(workers);
  stop = true;
  await Promise.all(submitters);
  return done / SECONDS;
}

const work = mkdtempSync(join(tmpdir(), 'gantry-bench-q-'));
const server = process.env.GANTRY_BENCH_POSTGRES_URL ? null : await startPostgres();
console.error('PostgreSQL ready');
const pgUrl = process.env.GANTRY_BENCH_POSTGRES_URL ?? server!.url;
const freshDb = async (name: string) => {
  const admin = new pg.Client(pgUrl);
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(pgUrl);
  u.pathname = `/${name}`;
  return u.toString();
};

const rows: string[] = [];
try {
  for (const [title, make] of [
    ['Gantry queue on SQLite', () => gantry(`sqlite:${join(work, 'gantry.db')}`)],
    ['Gantry queue on PostgreSQL', async () => gantry(await freshDb('bench_gantry'))],
    ['pg-boss 10 on PostgreSQL', async () => pgBoss(await freshDb('bench_pgboss'))],
  ] as const) {
    console.error(`${title}…`);
    const s: Subject & { claimLatency?: () => Promise<number[]> } = await make();
    try {
      const rate = await throughput(s);
      const lat = s.claimLatency ? await s.claimLatency() : await bossLatency(await freshDb('bench_pgboss_lat'));
      rows.push(`| ${title} | ${rate.toFixed(0)} | ${pct(lat, 50).toFixed(2)} | ${pct(lat, 99).toFixed(2)} |`);
    } finally {
      await s.close();
    }
  }
  console.error('graphile-worker 0.18 on PostgreSQL…');
  const g = await graphile(await freshDb('bench_graphile'));
  rows.push(`| graphile-worker 0.18 on PostgreSQL | ${g.rate.toFixed(0)} | ${pct(g.latency, 50).toFixed(2)} | ${pct(g.latency, 99).toFixed(2)} |`);
  console.log(`\n${WORKERS} workers, ${SUBMITTERS} submitters, ${SECONDS} s; claim latency over ${LATENCY_SAMPLES} jobs\n`);
  console.log('| queue | jobs/s (submit → claim → done) | claim p50 ms | claim p99 ms |');
  console.log('|---|---:|---:|---:|');
  console.log(rows.join('\n'));
} finally {
  server?.stop();
  rmSync(work, { recursive: true, force: true });
}

/** pg-boss's waiting worker polls; its smallest interval is 0.5 s. */
async function bossLatency(url: string) {
  const boss = new PgBoss({ connectionString: url });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue('lat');
  const samples: number[] = [];
  let sentAt = 0;
  let got: (() => void) | null = null;
  await boss.work('lat', { pollingIntervalSeconds: 0.5, batchSize: 1 }, async () => {
    samples.push(performance.now() - sentAt);
    got?.();
  });
  for (let i = 0; i < Math.min(LATENCY_SAMPLES, 40); i++) {
    await sleep(Math.random() * 500);
    const had = new Promise<void>((r) => (got = r));
    sentAt = performance.now();
    await boss.send('lat', {});
    await had;
  }
  await boss.stop({ graceful: false, wait: false });
  return samples;
}

/**
 * graphile-worker runs the tasks itself: a runner with WORKERS concurrent jobs (woken by
 * LISTEN/NOTIFY, fetching jobs in batches) while SUBMITTERS loops add jobs; counted are jobs
 * completed in SECONDS. Claim latency: a job added to an idle runner, until its task starts.
 */
async function graphile(url: string): Promise<{ rate: number; latency: number[] }> {
  const utils = await makeWorkerUtils({ connectionString: url });
  await utils.migrate();
  let done = 0;
  let onStart: (() => void) | null = null;
  const runner = await run({
    connectionString: url,
    concurrency: WORKERS,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: new Logger(() => () => {}),
    taskList: {
      bench: async () => {
        done++;
      },
      lat: async () => {
        onStart?.();
      },
    },
  });
  try {
    let stop = false;
    const submitters = Array.from({ length: SUBMITTERS }, async () => {
      while (!stop) await utils.addJob('bench', { n: 1 });
    });
    await sleep(1000);
    const from = done;
    await sleep(SECONDS * 1000);
    const rate = (done - from) / SECONDS;
    stop = true;
    await Promise.all(submitters);
    // Let what was submitted drain before timing single jobs.
    while ((await utils.withPgClient((c) => c.query('SELECT count(*)::int AS n FROM graphile_worker.jobs'))).rows[0].n > 0) await sleep(100);
    const latency: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      await sleep(5);
      const started = new Promise<void>((r) => (onStart = r));
      const t = performance.now();
      await utils.addJob('lat', {});
      await started;
      latency.push(performance.now() - t);
    }
    return { rate, latency };
  } finally {
    await runner.stop();
    await utils.release();
  }
}
