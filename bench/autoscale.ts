/**
 * Autoscaling, measured through `gantry serve` on the process runtime with the fixture worker:
 *
 *   1. Cold start: a deployment at zero (HTTPTotalRequests, min 0); time from the first request
 *      to its response (held by the gateway, the autoscaler wakes the deployment).
 *   2. Reaction: a step from no load to 60 req/s against a deployment of one replica with a
 *      target of 20 req/s per replica; time to the scale-up decision and to a new replica serving.
 *   3. Trace replay: the arrivals of ../shared/traces/azure-llm-2023-code.csv, time-compressed
 *      COMPRESS× (arrivals and service times alike), against a worker that serves one request
 *      at a time (MAX_CONCURRENT=1) for 0.05 ms per context token + 15 ms per generated token;
 *      the autoscaler beside a fixed fleet sized for the busiest minute, each in its own run.
 *
 *   npm run build && node --import tsx bench/autoscale.ts     (COMPRESS=20, TRACE_LIMIT=all)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { peakFleet, type SimRequest } from '../src/autoscaler/simulate.js';
import { parseAzureTrace } from '../src/autoscaler/trace.js';
import { startGantry } from './lib/gantry.js';

const KEY = 'bench-autoscale-key-0123456789abcdef0123456789';
const COMPRESS = Number(process.env.COMPRESS ?? 20);
const worker = fileURLToPath(new URL('../test/fixtures/worker.js', import.meta.url));
const trace = fileURLToPath(new URL('../../shared/traces/azure-llm-2023-code.csv', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'gantry-bench-as-'));
const dispatcher = new Agent({ connections: 512, pipelining: 1 });
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

async function api(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return (await res.json()) as { status: string; desired_replicas: number; ready_replicas: number };
}
const deploy = (url: string, name: string, extra: object) =>
  api(url, 'POST', '/v1/deployments', {
    name,
    image: 'local/worker:1',
    gpu_type: 'none',
    command: [process.execPath, worker],
    health_check_path: '/health',
    termination_grace_period_seconds: 1,
    ...extra,
  });
async function until(url: string, name: string, done: (d: { status: string; ready_replicas: number }) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (done(await api(url, 'GET', `/v1/deployments/${name}`))) return;
    await sleep(50);
  }
  throw new Error(`${name} did not reach the expected state`);
}
const send = (url: string, name: string, path: string) =>
  fetch(`${url}/v1/deployment-request/${name}${path}`, { headers, dispatcher } as RequestInit).then(async (res) => {
    await res.arrayBuffer();
    return { status: res.status, replica: res.headers.get('x-gantry-replica') };
  });

async function coldStart(url: string) {
  await deploy(url, 'cold', { min_replicas: 0, max_replicas: 1, autoscaling: { metric: 'HTTPTotalRequests', target: 100 } });
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    await until(url, 'cold', (d) => d.status === 'ScaledToZero' && d.ready_replicas === 0);
    await sleep(300); // the replica's process has exited, not just been asked to
    const t = performance.now();
    const r = await send(url, 'cold', '/echo');
    if (r.status !== 200) throw new Error(`cold request answered ${r.status}`);
    times.push(performance.now() - t);
  }
  return times;
}

async function reaction(url: string) {
  await deploy(url, 'react', { min_replicas: 1, max_replicas: 4, autoscaling: { metric: 'HTTPTotalRequests', target: 20 } });
  await until(url, 'react', (d) => d.status === 'Ready' && d.ready_replicas === 1);
  const first = (await send(url, 'react', '/echo')).replica;
  await sleep(3_000); // the one request above leaves the short window
  const t0 = performance.now();
  let decisionMs = NaN;
  let servingMs = NaN;
  let stop = false;
  const load = (async () => {
    // 60 req/s, 5 ms of work each: three times one replica's target.
    while (!stop) {
      void send(url, 'react', '/work?ms=5').then((r) => {
        if (r.replica !== first && Number.isNaN(servingMs)) servingMs = performance.now() - t0;
      });
      await sleep(1000 / 60);
    }
  })();
  while (Number.isNaN(decisionMs) || Number.isNaN(servingMs)) {
    if (Number.isNaN(decisionMs) && (await api(url, 'GET', '/v1/deployments/react')).desired_replicas > 1) decisionMs = performance.now() - t0;
    if (performance.now() - t0 > 30_000) break;
    await sleep(20);
  }
  stop = true;
  await load;
  return { decisionMs, servingMs };
}

type Arrival = SimRequest;

/** The trace as `gantry autoscale simulate` reads it (TRACE_LIMIT: the first N requests only). */
function loadTrace(): Arrival[] {
  const arrivals = parseAzureTrace(readFileSync(trace, 'utf8'), { msPerContextToken: 0.05, msPerGeneratedToken: 15 }, COMPRESS);
  return process.env.TRACE_LIMIT ? arrivals.slice(0, Number(process.env.TRACE_LIMIT)) : arrivals;
}

async function replay(url: string, name: string, arrivals: Arrival[]) {
  await until(url, name, (d) => d.status === 'Ready', 120_000);
  let replicaMs = 0;
  let sampling = true;
  const sampler = (async () => {
    let last = performance.now();
    while (sampling) {
      const d = await api(url, 'GET', `/v1/deployments/${name}`);
      const now = performance.now();
      replicaMs += d.ready_replicas * (now - last);
      last = now;
      await sleep(250);
    }
  })();
  const start = performance.now();
  const waits: number[] = [];
  let rejected = 0;
  await Promise.all(
    arrivals.map(async (a) => {
      const delay = start + a.atMs - performance.now();
      if (delay > 0) await sleep(delay);
      const t = performance.now();
      const r = await send(url, name, `/work?ms=${a.serviceMs.toFixed(1)}`).catch(() => ({ status: 0, replica: null }));
      if (r.status !== 200) rejected++;
      else waits.push(performance.now() - t - a.serviceMs);
    }),
  );
  sampling = false;
  await sampler;
  return { waits, rejected, replicaSeconds: replicaMs / 1000 };
}

const rows: string[] = [];
try {
  {
    const { url, stop } = await startGantry(join(work, 'a'), KEY, ['--idle-grace', '1', '--scale-down-window', '1']);
    try {
      const cold = await coldStart(url);
      rows.push(`cold start (first request to response, 5 runs): p50 ${pct(cold, 50).toFixed(0)} ms, max ${Math.max(...cold).toFixed(0)} ms`);
      const r = await reaction(url);
      rows.push(
        `reaction to a step to 60 req/s (target 20 per replica): decision after ${r.decisionMs.toFixed(0)} ms, a new replica serving after ${r.servingMs.toFixed(0)} ms`,
      );
    } finally {
      await stop();
    }
  }
  const arrivals = loadTrace();
  const fleet = peakFleet(arrivals, 1, 60_000 / COMPRESS);
  const capacityRps = 1000 / (arrivals.reduce((s, a) => s + a.serviceMs, 0) / arrivals.length);
  const target = Math.max(1, Math.round(capacityRps * 0.7));
  const window = Math.max(1, Math.round(300 / COMPRESS));
  // The setting `gantry autoscale simulate` found on this trace (bench/README.md): 20 s of scale-down window, compressed.
  const concurrencyWindow = Math.max(1, Math.round(20 / COMPRESS));
  const table: string[] = [];
  for (const [title, spec, scaleDownWindow] of [
    [
      `autoscaler (HTTPTotalRequests target ${target}/replica, 1..${fleet + 2}, scale-down window ${window} s)`,
      { min_replicas: 1, max_replicas: fleet + 2, autoscaling: { metric: 'HTTPTotalRequests', target, time_interval_minutes: 1 } },
      window,
    ],
    [
      `autoscaler (ConcurrentRequests target 4/replica, 1..${fleet + 2}, scale-down window ${concurrencyWindow} s)`,
      { min_replicas: 1, max_replicas: fleet + 2, autoscaling: { metric: 'ConcurrentRequests', target: 4, time_interval_minutes: 1 } },
      concurrencyWindow,
    ],
    [`fixed fleet of ${fleet} (the busiest minute at 70 %)`, { min_replicas: fleet, max_replicas: fleet }, window],
  ] as const) {
    const { url, stop } = await startGantry(join(work, `t${table.length}`), KEY, ['--scale-down-window', String(scaleDownWindow), '--hold-max', '100000']);
    try {
      await deploy(url, 'trace', { ...spec, environment_variables: [{ name: 'MAX_CONCURRENT', value: '1' }] });
      const r = await replay(url, 'trace', arrivals);
      table.push(
        `| ${title} | ${pct(r.waits, 50).toFixed(1)} | ${pct(r.waits, 99).toFixed(1)} | ${r.rejected} | ${r.replicaSeconds.toFixed(0)} (${((r.replicaSeconds * COMPRESS) / 3600).toFixed(1)} h uncompressed) |`,
      );
    } finally {
      await stop();
    }
  }
  console.log(rows.join('\n'));
  console.log(
    `\ntrace: ${arrivals.length} requests over ${(arrivals.at(-1)!.atMs / 1000).toFixed(0)} s (compressed ${COMPRESS}×), mean service ${(1000 / capacityRps).toFixed(1)} ms, one at a time per replica\n`,
  );
  console.log('| fleet | p50 wait ms | p99 wait ms | rejected | replica-seconds |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(table.join('\n'));
} finally {
  await dispatcher.close();
  rmSync(work, { recursive: true, force: true });
}
