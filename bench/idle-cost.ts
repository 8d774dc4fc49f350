/**
 * Cost that does not grow with idle work (issue 16): GET /v1/deployments/{id} and
 * POST /v1/deployments at 16 connections on a `gantry serve` (compiled) with 10
 * deployments, then again after 10,000 autoscaled deployments at zero and 100,000 finished jobs
 * were added, in one run, on SQLite and on PostgreSQL (a throwaway server, or
 * GANTRY_BENCH_POSTGRES_URL). Reports each p99 and the ratio (target: within 1.5×).
 *
 *   npm run build && node --import tsx bench/idle-cost.ts     (BENCH_SECONDS=10, BENCH_ENGINES=sqlite,postgres)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobRecord } from '../src/contract/records.js';
import { openDatabase } from '../src/store/database.js';
import { Store } from '../src/store/store.js';
// @ts-expect-error plain JS helper shared with the test runner
import { startPostgres } from '../scripts/postgres-server.js';
import { startGantry } from './lib/gantry.js';
import { wrk as runWrk, type WrkRow } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 16;
const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 10_000);
const JOBS = Number(process.env.BENCH_JOBS ?? 100_000);
const KEY = 'bench-admin-key-0123456789abcdef0123456789';
const work = mkdtempSync(join(tmpdir(), 'gantry-bench-idle-'));
const auth = `wrk.headers["Authorization"] = "Bearer ${KEY}"\nwrk.headers["Content-Type"] = "application/json"\n`;
const spec = (name: string) => ({
  name,
  image: 'img:1',
  gpu_type: 'h100-80gb',
  command: ['true'],
  min_replicas: 0,
  max_replicas: 2,
  autoscaling: { metric: 'HTTPTotalRequests', target: 10 },
});

/** Both halves on one engine: `databaseUrl` undefined is SQLite in the data dir. */
async function engine(name: string, databaseUrl: string | undefined): Promise<WrkRow[][]> {
  const dir = join(work, name);
  const server = await startGantry(dir, KEY, databaseUrl ? ['--database', databaseUrl] : []);
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    }).then((r) => r.json() as Promise<{ id: string }>);

  /** GET and POST p99 now; `round` keeps POSTed names apart between measurements. */
  function measure(label: string, target: string, round: number): WrkRow[] {
    const get = `${auth}wrk.path = "/v1/deployments/${target}"\n`;
    runWrk(work, 'warm-up', server.url, get, 2, CONNECTIONS);
    const post = `${auth}local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/deployments", nil, '{"name":"post-${round}-' .. n .. '","image":"img:1","gpu_type":"h100-80gb","command":["true"],"min_replicas":0,"max_replicas":2,"autoscaling":{"metric":"HTTPTotalRequests","target":10}}')
end
`;
    return [
      runWrk(work, `${name} ${label} GET /v1/deployments/{id}`, server.url, get, SECONDS, CONNECTIONS),
      runWrk(work, `${name} ${label} POST /v1/deployments`, server.url, post, SECONDS, CONNECTIONS),
    ];
  }

  try {
    const target = await api('POST', '/v1/deployments', spec('target'));
    for (let i = 1; i < 10; i++) await api('POST', '/v1/deployments', spec(`small-${i}`));
    const small = measure('10 deployments:', target.id, 1);

    // 10,000 autoscaled deployments at zero, through the API (so everything a create writes exists).
    const started = Date.now();
    for (let i = 0; i < DEPLOYMENTS; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => api('POST', '/v1/deployments', spec(`idle-${i + j}`))));
    }
    // 100,000 finished jobs, written straight into the database (the API would take an hour).
    const store = new Store(await openDatabase(databaseUrl ?? `sqlite:${join(dir, 'gantry.db')}`));
    const project = (await store.db.get<{ project_id: string }>('SELECT project_id FROM deployments LIMIT 1'))!.project_id;
    const at = new Date().toISOString();
    const done = (i: number): JobRecord => ({
      id: `job-${i}`,
      project_id: project,
      model: `idle-${i % DEPLOYMENTS}`,
      status: 'done',
      priority: 0,
      payload: '{}',
      info: '{}',
      outputs: '{}',
      retries: 0,
      claimed_by: null,
      claim_timeout_s: null,
      claim_expires_at: null,
      created_at: at,
      claimed_at: at,
      done_at: at,
    });
    for (let i = 0; i < JOBS; i += 1000) await store.jobs.insertMany(Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => done(i + k)));
    await store.close();
    process.stderr.write(`${name}: added ${DEPLOYMENTS} deployments and ${JOBS} jobs in ${Math.round((Date.now() - started) / 1000)} s\n`);
    return [small, measure(`${DEPLOYMENTS} deployments:`, target.id, 2)];
  } finally {
    await server.stop();
  }
}

const engines = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',');
const postgres = process.env.GANTRY_BENCH_POSTGRES_URL || !engines.includes('postgres') ? null : await startPostgres();
try {
  const results: [string, WrkRow[][]][] = [];
  if (engines.includes('sqlite')) results.push(['SQLite', await engine('sqlite', undefined)]);
  if (engines.includes('postgres')) results.push(['PostgreSQL', await engine('postgres', process.env.GANTRY_BENCH_POSTGRES_URL ?? postgres!.url)]);
  console.log('| engine | route | deployments | requests/s | p50 ms | p99 ms | p99 ratio | non-2xx |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [engineName, [small, big]] of results) {
    for (const [i, row] of [...small!, ...big!].entries()) {
      const base = small![i % 2]!;
      console.log(
        `| ${engineName} | ${row.title.split(': ')[1]} | ${i < 2 ? 10 : DEPLOYMENTS} | ${row.rps} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${(row.p99 / base.p99).toFixed(2)} | ${row.errors} |`,
      );
    }
  }
} finally {
  postgres?.stop();
  rmSync(work, { recursive: true, force: true });
}
