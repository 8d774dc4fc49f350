/**
 * Several instances on one PostgreSQL, in one run:
 *
 *   - takeover: two instances (process runtime, one data dir) with a one-replica deployment;
 *     the leader is killed with SIGKILL (a process the survivor can see is gone: it takes over
 *     at once), or stopped with SIGSTOP (as a leader on another machine, or hung, looks: the
 *     survivor waits out the lease); measured are the times until the survivor takes the
 *     lease, until its controller has started (adopted the runtime, first reconciles queued:
 *     its log line "leading: runtime ready"), and until the deployment answers through it
 *     again (the process runtime restarts replicas on a new leader). RUNS times, p50 and max.
 *   - queue: jobs/s end to end over HTTP (SUBMITTERS submit loops, WORKERS claim-and-complete
 *     loops) through one instance, then spread over two instances on the same database.
 *
 *   npm run build && node --import tsx bench/cluster.ts
 * (a throwaway PostgreSQL is started as in `npm test`, or GANTRY_BENCH_POSTGRES_URL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startGantry } from './lib/gantry.js';
// @ts-expect-error: a plain JavaScript script shared with npm test
import { startPostgres } from '../scripts/postgres-server.js';

const RUNS = Number(process.env.RUNS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SUBMITTERS = 8;
const WORKERS = 16;
const KEY = 'bench-cluster-key-0123456789abcdef0123456789';
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const worker = fileURLToPath(new URL('../test/fixtures/worker.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const server = process.env.GANTRY_BENCH_POSTGRES_URL ? null : await startPostgres();
const adminUrl: string = process.env.GANTRY_BENCH_POSTGRES_URL ?? server.url;

async function freshDatabase(): Promise<string> {
  const name = `bench_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

type Instance = Awaited<ReturnType<typeof startGantry>>;
const start = (dir: string, db: string, logLevel = 'warn') => startGantry(dir, KEY, ['--database', db], logLevel);
const post = (g: Instance, path: string, body: object) => fetch(`${g.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
const leads = async (g: Instance) => ((await (await fetch(`${g.url}/health`)).json()) as { leader: boolean }).leader;
/** The time (epoch ms) of the first log line with this message, or null. */
const logged = (g: Instance, msg: string) => {
  for (const line of g.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; time?: number };
    if (entry.msg === msg) return entry.time!;
  }
  return null;
};

async function takeover(signal: 'SIGKILL' | 'SIGSTOP') {
  const lease: number[] = [];
  const ready: number[] = [];
  const serving: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-cluster-'));
    const db = await freshDatabase();
    const a = await start(dir, db, 'info');
    const b = await start(dir, db, 'info');
    try {
      const body = { name: 'web', image: 'local/worker:1', gpu_type: 'none', command: [process.execPath, worker], health_check_path: '/health' };
      if ((await post(a, '/v1/deployments', body)).status !== 200) throw new Error('deployment not created');
      for (;;) {
        const res = await fetch(`${b.url}/v1/deployments/web`, { headers });
        if (((await res.json()) as { ready_replicas: number }).ready_replicas === 1) break;
        await sleep(50);
      }
      if (!(await leads(a))) throw new Error('the first instance does not lead');
      const killedAt = Date.now();
      if (signal === 'SIGKILL') await a.stop('SIGKILL');
      else process.kill(a.pid, 'SIGSTOP');
      let leaseAt = 0;
      let servingAt = 0;
      while (!leaseAt || !servingAt) {
        const now = Date.now();
        if (!leaseAt && (await leads(b))) leaseAt = now;
        if (leaseAt && !servingAt) {
          const res = await fetch(`${b.url}/v1/deployments/web`, { headers });
          const d = (await res.json()) as { ready_replicas: number; replica_events: Record<string, unknown> };
          // Ready again on a replica the new leader started.
          if (d.ready_replicas === 1 && !Object.keys(d.replica_events).some((id) => a.output().includes(id))) servingAt = Date.now();
        }
        if (now - killedAt > 60_000) throw new Error('no takeover within a minute');
        await sleep(20);
      }
      const readyAt = logged(b, 'leading: runtime ready');
      lease.push(leaseAt - killedAt);
      ready.push((readyAt ?? NaN) - killedAt);
      serving.push(servingAt - killedAt);
      process.stdout.write(
        `run ${run + 1}: lease ${leaseAt - killedAt} ms, runtime ready ${(readyAt ?? NaN) - killedAt} ms, serving ${servingAt - killedAt} ms\n`,
      );
    } finally {
      await a.stop('SIGKILL');
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { lease, ready, serving };
}

async function queue(instances: number) {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-cluster-q-'));
  const db = await freshDatabase();
  const gs: Instance[] = [];
  for (let i = 0; i < instances; i++) gs.push(await start(dir, db));
  try {
    if ((await post(gs[0]!, '/v1/deployments', { name: 'jobs', image: 'img:1', gpu_type: 'none', command: ['true'], min_replicas: 0 })).status !== 200)
      throw new Error('queue deployment not created');
    let running = true;
    let done = 0;
    const submit = async (g: Instance) => {
      while (running) await (await post(g, '/v1/queue/submit', { model: 'jobs', payload: { n: 1 } })).arrayBuffer();
    };
    const work = async (g: Instance) => {
      while (running) {
        const res = await fetch(`${g.url}/internal/v1/queue/retrieve?model=jobs&timeout=1s&hostname=w`, { headers });
        const job = ((await res.json()) as { data: { request_id: string } | null }).data;
        if (!job) continue;
        const r = await post(g, '/internal/v1/videos/status', { model: 'jobs', request_id: job.request_id, status: 'done', payload: {} });
        await r.arrayBuffer();
        if (r.status === 200) done++;
      }
    };
    const loops = [
      ...Array.from({ length: SUBMITTERS }, (_, i) => submit(gs[i % instances]!)),
      ...Array.from({ length: WORKERS }, (_, i) => work(gs[i % instances]!)),
    ];
    await sleep(1000);
    const from = done;
    await sleep(SECONDS * 1000);
    const jobsPerSecond = (done - from) / SECONDS;
    running = false;
    await Promise.all(loops);
    return jobsPerSecond;
  } finally {
    for (const g of gs) await g.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const kill = await takeover('SIGKILL');
  const stall = await takeover('SIGSTOP');
  const one = await queue(1);
  const two = await queue(2);
  console.log(`\nthe leader killed or stopped, ${RUNS} runs each (--leader-lease-seconds 3, process runtime):\n`);
  console.log('| from the signal until | SIGKILL p50 ms | SIGKILL max ms | SIGSTOP p50 ms | SIGSTOP max ms |\n|---|---:|---:|---:|---:|');
  const row = (name: string, a: number[], b: number[]) => `| ${name} | ${pct(a, 50)} | ${Math.max(...a)} | ${pct(b, 50)} | ${Math.max(...b)} |`;
  console.log(row('the survivor holds the lease', kill.lease, stall.lease));
  console.log(row('its controller has started (runtime adopted, reconciles queued)', kill.ready, stall.ready));
  console.log(row('the deployment is served again (a replica it started is ready)', kill.serving, stall.serving));
  console.log(`\nqueue over HTTP, ${SUBMITTERS} submitters and ${WORKERS} workers, ${SECONDS} s:\n`);
  console.log('| instances | jobs/s | ratio |\n|---|---:|---:|');
  console.log(`| 1 | ${one.toFixed(0)} | 1.00 |`);
  console.log(`| 2 | ${two.toFixed(0)} | ${(two / one).toFixed(2)} |`);
} finally {
  server?.stop();
}
