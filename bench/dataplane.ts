/**
 * Which data plane, measured: one upstream (three replicas of the fixture worker, process
 * runtime, so the upstream is not the limit) reached through
 *   - nginx with 1 and 2 worker processes (the reference),
 *   - HAProxy with 1 and 2 threads, its backend fed from Gantry's routing table through the
 *     runtime API (server slots set to each ready replica, as a controller of it would; no
 *     API-key check),
 *   - the smallest Node.js proxy (one process, round robin),
 *   - Gantry's gateway in one process, and with `--gateway-workers 2`,
 * in one run, wrk -t1 at 64 connections, GET /echo. The two Gantry rows are two instances on one
 * PostgreSQL (the leader, one process; another with two gateway workers), so every row reaches
 * the very same replicas.
 *
 *   npm run build && node --import tsx bench/dataplane.ts      (BENCH_SECONDS=10)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReplicaState } from '../src/contract/runtime.js';
import { openDatabase } from '../src/store/database.js';
import { Store } from '../src/store/store.js';
import { deployFixtureWorker, startGantry } from './lib/gantry.js';
import { startHaproxy } from './lib/haproxy.js';
import { freePort, startNginx } from './lib/nginx.js';
import { wrk, type WrkRow } from './lib/wrk.js';
// @ts-expect-error: a plain JavaScript script shared with npm test
import { startPostgres } from '../scripts/postgres-server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 64;
const REPLICAS = 3;
const KEY = 'bench-dataplane-key-0123456789abcdef0123456789';
const work = mkdtempSync(join(tmpdir(), 'gantry-bench-dp-'));
const data = join(work, 'data');
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const plain = 'wrk.path = "/echo"\n';
const viaGantry = `wrk.headers["Authorization"] = "Bearer ${KEY}"\nwrk.path = "/v1/deployment-request/up/echo"\n`;
const run = (title: string, target: string, script: string) => wrk(work, title, target, script, SECONDS, CONNECTIONS);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pg = await startPostgres();
const stops: (() => unknown)[] = [() => pg.stop(), () => rmSync(work, { recursive: true, force: true })];
try {
  const leader = await startGantry(data, KEY, ['--database', pg.url]);
  stops.unshift(() => leader.stop());
  const ports = await deployFixtureWorker(leader.url, KEY, data, REPLICAS);
  const id = (await (await fetch(`${leader.url}/v1/deployments/up`, { headers })).json()).id as string;
  const workers = await startGantry(data, KEY, ['--database', pg.url, '--gateway-workers', '2']);
  stops.unshift(() => workers.stop());

  // HAProxy's backend, fed from Gantry's routing table as the leader shares it (the store's observations).
  const store = new Store(await openDatabase(pg.url));
  stops.unshift(() => store.close());
  const readyAddresses = async () => {
    const row = await store.cluster.observation(id);
    const replicas = row ? (JSON.parse(row.replicas) as ReplicaState[]) : [];
    return new Map(replicas.filter((r) => r.readySince && r.address).map((r) => [r.id, r.address!]));
  };
  const haproxies = [await startHaproxy(work, 1), await startHaproxy(work, 2)];
  for (const h of haproxies) stops.unshift(() => h.stop());
  const fedAt = performance.now();
  for (const h of haproxies) await h.setServers(await readyAddresses(), new Map());
  const feedMs = performance.now() - fedAt;
  const nginxes = [await startNginx(work, ports, 1), await startNginx(work, ports, 2)];
  for (const n of nginxes) stops.unshift(() => n.stop());
  const minimalPort = await freePort();
  const minimal = spawn(
    process.execPath,
    [fileURLToPath(new URL('./lib/minimal-proxy.mjs', import.meta.url)), String(minimalPort), ports.map((p) => `127.0.0.1:${p}`).join(',')],
    {
      stdio: 'ignore',
    },
  );
  stops.unshift(() => minimal.kill());
  // The follower's workers route once they have read the leader's observations.
  for (;;) {
    if ((await fetch(`${workers.url}/v1/deployment-request/up/echo`, { headers })).status === 200) break;
    await sleep(100);
  }

  run('warm-up', leader.url, viaGantry);
  run('warm-up', workers.url, viaGantry);
  const rows: WrkRow[] = [
    run('direct to one replica', `http://127.0.0.1:${ports[0]}`, plain),
    run('nginx, 1 worker process', `http://127.0.0.1:${nginxes[0]!.port}`, plain),
    run('nginx, 2 worker processes', `http://127.0.0.1:${nginxes[1]!.port}`, plain),
    run('HAProxy, 1 thread (fed through its runtime API)', `http://127.0.0.1:${haproxies[0]!.port}`, plain),
    run('HAProxy, 2 threads (fed through its runtime API)', `http://127.0.0.1:${haproxies[1]!.port}`, plain),
    run('minimal Node.js proxy, 1 process', `http://127.0.0.1:${minimalPort}`, plain),
    run('Gantry gateway, 1 process', leader.url, viaGantry),
    run('Gantry gateway, --gateway-workers 2', workers.url, viaGantry),
  ];
  const [, n1, n2, h1, h2, m1, g1, g2] = rows as [WrkRow, WrkRow, WrkRow, WrkRow, WrkRow, WrkRow, WrkRow, WrkRow];
  console.log(`\n${CONNECTIONS} connections, ${SECONDS} s per row, wrk -t1, GET /echo, ${REPLICAS} upstream replicas\n`);
  console.log('| path | requests/s | p50 ms | p99 ms | non-2xx |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.title} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} |`);
  const x = (a: WrkRow, b: WrkRow) => (a.rps / b.rps).toFixed(2);
  console.log(`
| ratio | 1 process | 2 processes |
|---|---:|---:|
| Gantry gateway / nginx | ${x(g1, n1)} | ${x(g2, n2)} |
| HAProxy / nginx | ${x(h1, n1)} | ${x(h2, n2)} |
| Gantry gateway / HAProxy | ${x(g1, h1)} | ${x(g2, h2)} |
| minimal Node.js proxy / nginx | ${x(m1, n1)} | |

scaling 1 → 2: nginx ${x(n2, n1)} ×, HAProxy ${x(h2, h1)} ×, Gantry gateway ${x(g2, g1)} ×
feeding HAProxy ${REPLICAS} servers through its runtime API: ${feedMs.toFixed(1)} ms for both`);
} finally {
  for (const stop of stops) await stop();
}
