/**
 * API throughput and latency: GET /v1/deployments/{id} and POST /v1/deployments at 64
 * concurrent connections, against a real `gantry serve` (compiled) on SQLite and on a
 * throwaway PostgreSQL server, side by side in one run. Deployments have min_replicas 0, so
 * the numbers are the API's and the store's, not the runtime's. Load comes from wrk (C, one
 * thread) so the load generator takes as little as possible of the machine's two cores. Beside
 * them, the floor: the same GET's body from a bare Fastify route (bench/lib/floor-server.ts).
 *
 *   npm run build && npm run bench:api            (BENCH_SECONDS=10, CONNECTIONS=64 by default)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain JS helper shared with the test runner
import { startPostgres } from '../scripts/postgres-server.js';
import { startGantry } from './lib/gantry.js';
import { wrk as runWrk } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64);
const KEY = 'bench-admin-key-0123456789abcdef0123456789';
const work = mkdtempSync(join(tmpdir(), 'gantry-bench-'));

const startServer = (databaseUrl: string | undefined, dir: string) => startGantry(dir, KEY, databaseUrl ? ['--database', databaseUrl] : []);

const wrk = (title: string, url: string, script: string, seconds = SECONDS) => runWrk(work, title, url, script, seconds, CONNECTIONS);

const auth = `wrk.headers["Authorization"] = "Bearer ${KEY}"\nwrk.headers["Content-Type"] = "application/json"\n`;

async function benchEngine(engine: string, databaseUrl: string | undefined) {
  const dir = mkdtempSync(join(work, engine));
  const server = await startServer(databaseUrl, dir);
  try {
    const seed = await fetch(`${server.url}/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'bench-target',
        image: 'img:1',
        gpu_type: 'h100-80gb',
        command: ['true'],
        min_replicas: 0,
        environment_variables: [{ name: 'A', value: '1' }],
      }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const get = `${auth}wrk.path = "/v1/deployments/${seed.id}"\n`;
    wrk('warm-up', server.url, get, 2);
    const getRow = wrk(`${engine} GET /v1/deployments/{id}`, server.url, get);
    if (engine === 'sqlite') floorBody = await (await fetch(`${server.url}/v1/deployments/${seed.id}`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    const post = `${auth}local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/deployments", nil, '{"name":"bench-' .. n .. '","image":"img:1","gpu_type":"h100-80gb","command":["true"],"min_replicas":0}')
end
`;
    return [getRow, wrk(`${engine} POST /v1/deployments`, server.url, post)];
  } finally {
    await server.stop();
  }
}

/** The same GET's answer from a bare Fastify route (bench/lib/floor-server.ts): what the machine allows. */
async function floor() {
  const file = join(work, 'floor-body.json');
  writeFileSync(file, floorBody);
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/floor-server.ts', KEY, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d) => {
        const m = /listening on (\S+)/.exec((out += d));
        if (m) resolve(m[1]!);
      });
      proc.on('exit', (c) => reject(new Error(`floor server exited with ${c}`)));
    });
    const get = `${auth}wrk.path = "/v1/deployments/x"\n`;
    wrk('warm-up', url, get, 2);
    return wrk('bare Fastify, same body (floor)', url, get);
  } finally {
    proc.kill();
  }
}

let floorBody = '';
const pg = await startPostgres();
try {
  const rows = [...(await benchEngine('sqlite', undefined)), await floor(), ...(await benchEngine('postgres', pg.url))];
  console.log(`\n${CONNECTIONS} connections, ${SECONDS} s per row, wrk -t1\n`);
  console.log('| route | requests/s | p50 ms | p99 ms | non-2xx |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.title} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} |`);
} finally {
  pg.stop();
  rmSync(work, { recursive: true, force: true });
}
