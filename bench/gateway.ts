/**
 * Gateway overhead: one small upstream (the fixture worker, one replica on the process
 * runtime) reached three ways in one run, each with wrk at 64 connections: directly, through
 * nginx (Debian's package, proxy_pass with keep-alive upstream connections, one worker
 * process), through the smallest possible Node.js proxy (bench/lib/minimal-proxy.mjs: the floor
 * for any proxy written in Node), and through Gantry's gateway (`/v1/deployment-request/{name}/…`,
 * with auth).
 *
 *   npm run build && node --import tsx bench/gateway.ts      (BENCH_SECONDS=10)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deployFixtureWorker, startGantry } from './lib/gantry.js';
import { freePort, startNginx } from './lib/nginx.js';
import { wrk } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 64;
const KEY = 'bench-gateway-key-0123456789abcdef0123456789';
const work = mkdtempSync(join(tmpdir(), 'gantry-bench-gw-'));

const { url, stop } = await startGantry(join(work, 'data'), KEY);
let nginx: Awaited<ReturnType<typeof startNginx>> | null = null;
let minimal: ReturnType<typeof spawn> | null = null;
try {
  const upstreamPort = (await deployFixtureWorker(url, KEY, join(work, 'data')))[0]!;

  nginx = await startNginx(work, upstreamPort);
  const nginxPort = nginx.port;
  const minimalPort = await freePort();
  minimal = spawn(process.execPath, [fileURLToPath(new URL('./lib/minimal-proxy.mjs', import.meta.url)), String(minimalPort), `127.0.0.1:${upstreamPort}`], {
    stdio: 'inherit',
  });
  await new Promise((r) => setTimeout(r, 500));

  const plain = 'wrk.path = "/echo"\n';
  const viaGantry = `wrk.headers["Authorization"] = "Bearer ${KEY}"\nwrk.path = "/v1/deployment-request/up/echo"\n`;
  const run = (title: string, target: string, script: string) => wrk(work, title, target, script, SECONDS, CONNECTIONS);
  run('warm-up', `http://127.0.0.1:${nginxPort}`, plain);
  run('warm-up', url, viaGantry);
  const rows = [
    run('direct to the replica', `http://127.0.0.1:${upstreamPort}`, plain),
    run('through nginx', `http://127.0.0.1:${nginxPort}`, plain),
    run('through a minimal Node.js proxy', `http://127.0.0.1:${minimalPort}`, plain),
    run('through the Gantry gateway', url, viaGantry),
  ];
  console.log(`\n${CONNECTIONS} connections, ${SECONDS} s per row, wrk -t1, GET /echo (a small JSON answer)\n`);
  console.log('| path | requests/s | p50 ms | p99 ms | non-2xx |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.title} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} |`);
  const [, viaNginx, viaMinimal, viaGateway] = rows;
  console.log(
    `\ngateway / nginx throughput: ${(viaGateway!.rps / viaNginx!.rps).toFixed(2)}; p99 added over nginx: ${(viaGateway!.p99 - viaNginx!.p99).toFixed(2)} ms`,
  );
  console.log(
    `minimal Node.js proxy / nginx: ${(viaMinimal!.rps / viaNginx!.rps).toFixed(2)}; gateway / minimal Node.js proxy: ${(viaGateway!.rps / viaMinimal!.rps).toFixed(2)}`,
  );
} finally {
  nginx?.stop();
  minimal?.kill();
  await stop();
  rmSync(work, { recursive: true, force: true });
}
