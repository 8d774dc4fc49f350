/**
 * The gateway on one and on two processes, beside nginx with one and two worker processes and
 * the smallest Node.js proxy, all in front of the same upstream: three replicas of the fixture
 * worker (process runtime), so the upstream is not what limits the two-process rows. wrk -t1 at
 * 64 connections, GET /echo. Two phases, one per `--gateway-workers` setting (a restart starts
 * new replicas on new ports); each phase measures nginx again on its replicas, and each
 * gateway row is read against nginx with as many processes in the same phase.
 *
 *   npm run build && node --import tsx bench/gateway-workers.ts      (BENCH_SECONDS=10)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGantry } from './lib/gantry.js';
import { freePort, startNginx } from './lib/nginx.js';
import { wrk, type WrkRow } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 64;
const REPLICAS = 3;
const KEY = 'bench-gwworkers-key-0123456789abcdef0123456789';
const worker = fileURLToPath(new URL('../test/fixtures/worker.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'gantry-bench-gww-'));
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const plain = 'wrk.path = "/echo"\n';
const viaGantry = `wrk.headers["Authorization"] = "Bearer ${KEY}"\nwrk.path = "/v1/deployment-request/up/echo"\n`;
const run = (title: string, target: string, script: string) => wrk(work, title, target, script, SECONDS, CONNECTIONS);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts Gantry with `gatewayWorkers`, deploys the upstream and answers Gantry and the replicas' ports. */
async function phase(gatewayWorkers: number) {
  const data = join(work, `data-${gatewayWorkers}`);
  const gantry = await startGantry(data, KEY, ['--gateway-workers', String(gatewayWorkers)]);
  const created = await fetch(`${gantry.url}/v1/deployments`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      name: 'up',
      image: 'local/worker:1',
      gpu_type: 'none',
      command: [process.execPath, worker],
      health_check_path: '/health',
      min_replicas: REPLICAS,
      max_replicas: REPLICAS,
      environment_variables: [{ name: 'WRITE_ENV_FILE', value: '1' }],
    }),
  });
  const { id } = (await created.json()) as { id: string };
  for (;;) {
    const s = (await (await fetch(`${gantry.url}/v1/deployments/up`, { headers })).json()) as { ready_replicas: number };
    if (s.ready_replicas === REPLICAS) break;
    await sleep(50);
  }
  const base = join(data, 'replicas', id);
  const ports = readdirSync(base)
    .map((r) => join(base, r, 'env.json'))
    .filter(existsSync)
    .map((f) => JSON.parse(readFileSync(f, 'utf8')).env.PORT as string);
  return { gantry, ports };
}

const rows: WrkRow[] = [];
const ratios: string[] = [];
let minimal: ReturnType<typeof spawn> | null = null;
try {
  for (const gatewayWorkers of [1, 2]) {
    const { gantry, ports } = await phase(gatewayWorkers);
    const nginx1 = await startNginx(work, ports, 1);
    const nginx2 = await startNginx(work, ports, 2);
    try {
      await sleep(300);
      run('warm-up', gantry.url, viaGantry);
      const n1 = run(`nginx, 1 worker process (phase ${gatewayWorkers})`, `http://127.0.0.1:${nginx1.port}`, plain);
      const n2 = run(`nginx, 2 worker processes (phase ${gatewayWorkers})`, `http://127.0.0.1:${nginx2.port}`, plain);
      rows.push(n1, n2);
      if (gatewayWorkers === 1) {
        const minimalPort = await freePort();
        minimal = spawn(
          process.execPath,
          [fileURLToPath(new URL('./lib/minimal-proxy.mjs', import.meta.url)), String(minimalPort), ports.map((p) => `127.0.0.1:${p}`).join(',')],
          {
            stdio: 'ignore',
          },
        );
        await sleep(500);
        rows.push(run('minimal Node.js proxy, 1 process', `http://127.0.0.1:${minimalPort}`, plain));
        minimal.kill();
        minimal = null;
      }
      const g = run(`Gantry gateway, --gateway-workers ${gatewayWorkers}`, gantry.url, viaGantry);
      rows.push(g);
      const sameCount = gatewayWorkers === 1 ? n1 : n2;
      ratios.push(
        `--gateway-workers ${gatewayWorkers}: ${(g.rps / sameCount.rps).toFixed(2)} × nginx with ${gatewayWorkers} worker process${gatewayWorkers > 1 ? 'es' : ''}` +
          ` (nginx 1 → 2 processes in this phase: ${(n2.rps / n1.rps).toFixed(2)} ×)`,
      );
    } finally {
      nginx1.stop();
      nginx2.stop();
      await gantry.stop();
    }
  }
  const [gw1, gw2] = [rows.find((r) => r.title.endsWith('workers 1'))!, rows.find((r) => r.title.endsWith('workers 2'))!];
  console.log(`\n${CONNECTIONS} connections, ${SECONDS} s per row, wrk -t1, GET /echo, ${REPLICAS} upstream replicas\n`);
  console.log('| path | requests/s | p50 ms | p99 ms | non-2xx |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.title} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} |`);
  console.log('');
  for (const r of ratios) console.log(r);
  console.log(`Gantry gateway 1 → 2 workers: ${(gw2.rps / gw1.rps).toFixed(2)} ×`);
} finally {
  minimal?.kill();
  rmSync(work, { recursive: true, force: true });
}
