/**
 * Inference on a dedicated endpoint: non-streamed `POST /v1/chat/completions` to one engine
 * replica (the test suite's OpenAI-compatible fixture on the process runtime), reached three
 * ways in one run with wrk at 64 connections: directly, through nginx (the gateway bench's
 * reference, proxy_pass with keep-alive), and through Gantry (auth, reading the body for
 * `model`, resolving the endpoint's name, forwarding to its engine).
 *
 *   npm run build && node --import tsx bench/inference.ts      (BENCH_SECONDS=10)
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGantry } from './lib/gantry.js';
import { defaultEngine } from '../src/endpoints/engine.js';
import { startNginx } from './lib/nginx.js';
import { wrk } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 64;
const KEY = 'bench-inference-key-0123456789abcdef0123456789';
const engine = fileURLToPath(new URL('./lib/port-reporting-engine.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'gantry-bench-inf-'));
const config = join(work, 'config.json');
writeFileSync(
  config,
  JSON.stringify({
    models: [{ id: 'bench/tiny', type: 'chat', memory_gb: 1 }],
    engine: { command: [process.execPath, engine, '{model}'], args: defaultEngine('process').args },
  }),
);

const { url, stop } = await startGantry(join(work, 'data'), KEY, ['--config', config, '--gpus', 'h100-80gb:1']);
let nginx: Awaited<ReturnType<typeof startNginx>> | null = null;
try {
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const created = (await (
    await fetch(`${url}/v1/endpoints`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'bench/tiny', hardware: '1x_nvidia_h100_80gb_sxm', autoscaling: { min_replicas: 1, max_replicas: 1 } }),
    })
  ).json()) as { id: string; name: string; deployment: string };
  for (;;) {
    const e = (await (await fetch(`${url}/v1/endpoints/${created.id}`, { headers })).json()) as { state: string };
    if (e.state === 'STARTED') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const engineId = ((await (await fetch(`${url}/v1/deployments/${created.deployment}`, { headers })).json()) as { id: string }).id;
  const base = join(work, 'data', 'replicas', engineId);
  const portFile = readdirSync(base)
    .map((r) => join(base, r, 'port'))
    .find(existsSync)!;
  const enginePort = readFileSync(portFile, 'utf8').trim();
  nginx = await startNginx(work, enginePort);
  await new Promise((r) => setTimeout(r, 500));

  const body = JSON.stringify({ model: created.name, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 });
  const post = `wrk.method = "POST"\nwrk.path = "/v1/chat/completions"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '${body}'\n`;
  const withKey = `${post}wrk.headers["Authorization"] = "Bearer ${KEY}"\n`;
  const run = (title: string, target: string, script: string) => wrk(work, title, target, script, SECONDS, CONNECTIONS);
  run('warm-up', `http://127.0.0.1:${nginx.port}`, post);
  run('warm-up', url, withKey);
  const rows = [
    run('direct to the engine', `http://127.0.0.1:${enginePort}`, post),
    run('through nginx', `http://127.0.0.1:${nginx.port}`, post),
    run('through Gantry /v1/chat/completions', url, withKey),
  ];
  console.log(`\n${CONNECTIONS} connections, ${SECONDS} s per row, wrk -t1, POST /v1/chat/completions (not streamed, ${body.length}-byte body)\n`);
  console.log('| path | requests/s | p50 ms | p99 ms | non-2xx |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.title} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} |`);
  const [direct, viaNginx, viaGantry] = rows;
  console.log(
    `\nGantry / nginx throughput: ${(viaGantry!.rps / viaNginx!.rps).toFixed(2)}; Gantry / direct: ${(viaGantry!.rps / direct!.rps).toFixed(2)}; p99 added over nginx: ${(viaGantry!.p99 - viaNginx!.p99).toFixed(2)} ms`,
  );
} finally {
  nginx?.stop();
  await stop();
  rmSync(work, { recursive: true, force: true });
}
