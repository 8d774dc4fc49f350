/**
 * Cost that does not grow with idle work (issue 16): GET /v1/deployments/{id} and
 * POST /v1/deployments at 16 connections on a `gantry serve` (compiled, SQLite) with 10
 * deployments, then again after 10,000 autoscaled deployments at zero and 100,000 finished jobs
 * were added, in one run. Reports each p99 and the ratio (target: within 1.5×).
 *
 *   npm run build && node --import tsx bench/idle-cost.ts     (BENCH_SECONDS=10 by default)
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGantry } from './lib/gantry.js';
import { wrk as runWrk, type WrkRow } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 16;
const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 10_000);
const JOBS = Number(process.env.BENCH_JOBS ?? 100_000);
const KEY = 'bench-admin-key-0123456789abcdef0123456789';
const work = mkdtempSync(join(tmpdir(), 'gantry-bench-idle-'));
const auth = `wrk.headers["Authorization"] = "Bearer ${KEY}"\nwrk.headers["Content-Type"] = "application/json"\n`;

const server = await startGantry(join(work, 'data'), KEY);
const api = (method: string, path: string, body?: unknown) =>
  fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  }).then((r) => r.json() as Promise<{ id: string }>);
const spec = (name: string) => ({
  name,
  image: 'img:1',
  gpu_type: 'h100-80gb',
  command: ['true'],
  min_replicas: 0,
  max_replicas: 2,
  autoscaling: { metric: 'HTTPTotalRequests', target: 10 },
});

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
    runWrk(work, `${label} GET /v1/deployments/{id}`, server.url, get, SECONDS, CONNECTIONS),
    runWrk(work, `${label} POST /v1/deployments`, server.url, post, SECONDS, CONNECTIONS),
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
  const db = new Database(join(work, 'data', 'gantry.db'));
  const project = (db.prepare('SELECT project_id FROM deployments LIMIT 1').get() as { project_id: string }).project_id;
  const insert = db.prepare(
    `INSERT INTO jobs (id, project_id, model, status, priority, payload, info, outputs, retries, created_at, done_at)
     VALUES (?, ?, ?, 'done', 0, '{}', '{}', '{}', 0, ?, ?)`,
  );
  const at = new Date().toISOString();
  db.transaction(() => {
    for (let i = 0; i < JOBS; i++) insert.run(`job-${i}`, project, `idle-${i % DEPLOYMENTS}`, at, at);
  })();
  db.close();
  process.stderr.write(`added ${DEPLOYMENTS} deployments and ${JOBS} jobs in ${Math.round((Date.now() - started) / 1000)} s\n`);

  const big = measure(`${DEPLOYMENTS} deployments:`, target.id, 2);
  console.log('| route | deployments | requests/s | p50 ms | p99 ms | p99 ratio | non-2xx |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [i, row] of [...small, ...big].entries()) {
    const base = small[i % 2]!;
    console.log(
      `| ${row.title.split(': ')[1]} | ${i < 2 ? 10 : DEPLOYMENTS} | ${row.rps} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${(row.p99 / base.p99).toFixed(2)} | ${row.errors} |`,
    );
  }
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
