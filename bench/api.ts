/**
 * API throughput and latency: GET /v1/deployments/{id} and POST /v1/deployments at 64
 * concurrent connections, against a real `gantry serve` (compiled) on SQLite and on a
 * throwaway PostgreSQL server, side by side in one run. Load comes from wrk (C, one
 * thread) so the load generator takes as little as possible of the machine's two cores.
 *
 *   npm run build && npm run bench:api            (BENCH_SECONDS=10 by default)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain JS helper shared with the test runner
import { startPostgres } from '../scripts/postgres-server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 64;
const KEY = 'bench-admin-key';
const work = mkdtempSync(join(tmpdir(), 'gantry-bench-'));

async function startServer(databaseUrl: string | undefined, dir: string) {
  const args = ['bin/gantry.js', 'serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'warn'];
  if (databaseUrl) args.push('--database', databaseUrl);
  const proc = spawn(process.execPath, args, { env: { ...process.env, GANTRY_ADMIN_KEY: KEY }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (c) => reject(new Error(`gantry exited ${c}`)));
  });
  return { url, stop: () => new Promise<void>((r) => (proc.kill('SIGTERM'), proc.on('exit', () => r()))) };
}

/** Runs wrk and reads requests/s, p50, p99 and non-2xx answers from its report. */
function wrk(title: string, url: string, script: string, seconds = SECONDS) {
  const path = join(work, `${title.replace(/\W+/g, '-')}.lua`);
  writeFileSync(path, script);
  const r = spawnSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', path, url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const ms = (label: string) => {
    const m = new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)`).exec(r.stdout)!;
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
  };
  const bad = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { title, rps: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)![1])), p50: ms('50%'), p99: ms('99%'), errors: bad };
}

const auth = `wrk.headers["Authorization"] = "Bearer ${KEY}"\nwrk.headers["Content-Type"] = "application/json"\n`;

async function benchEngine(engine: string, databaseUrl: string | undefined) {
  const dir = mkdtempSync(join(work, engine));
  const server = await startServer(databaseUrl, dir);
  try {
    const seed = await fetch(`${server.url}/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-target', image: 'img:1', gpu_type: 'h100-80gb', environment_variables: [{ name: 'A', value: '1' }] }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const get = `${auth}wrk.path = "/v1/deployments/${seed.id}"\n`;
    wrk('warm-up', server.url, get, 2);
    const getRow = wrk(`${engine} GET /v1/deployments/{id}`, server.url, get);
    const post = `${auth}local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/deployments", nil, '{"name":"bench-' .. n .. '","image":"img:1","gpu_type":"h100-80gb"}')
end
`;
    return [getRow, wrk(`${engine} POST /v1/deployments`, server.url, post)];
  } finally {
    await server.stop();
  }
}

const pg = await startPostgres();
try {
  const rows = [...(await benchEngine('sqlite', undefined)), ...(await benchEngine('postgres', pg.url))];
  console.log(`\n${CONNECTIONS} connections, ${SECONDS} s per row, wrk -t1\n`);
  console.log('| route | requests/s | p50 ms | p99 ms | non-2xx |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.title} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} |`);
} finally {
  pg.stop();
  rmSync(work, { recursive: true, force: true });
}
