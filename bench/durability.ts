/**
 * Durability under SIGKILL, on SQLite and PostgreSQL: `gantry serve` (compiled) is killed with
 * SIGKILL at random moments (every 1.5–4 s) and started again on the same store, while
 *
 * - clients submit jobs and workers claim and complete them, until at least BENCH_JOBS
 *   (default 10,000) submits were acknowledged: afterwards every acknowledged job must exist and
 *   end done, and none may have been acknowledged done twice;
 * - other clients create, update and delete deployments, update a secret and upload files:
 *   afterwards every deployment that exists is whole (reads back with its last acknowledged
 *   spec or a later one) and Ready (the reconciler converged), the secret opens, and every
 *   upload is whole or absent (its bytes exactly, or a 404), never cut short.
 *
 *   npm run build && node --import tsx bench/durability.ts
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain JS helper shared with the test runner
import { startPostgres } from '../scripts/postgres-server.js';

const TARGET = Number(process.env.BENCH_JOBS ?? 10_000);
const HELLO = fileURLToPath(new URL('../examples/hello-worker/server.js', import.meta.url));
const KEY = 'durability-bench-key-0123456789abcdef0123';
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Server {
  proc: ChildProcess;
  url: string;
}

async function start(args: string[]): Promise<Server> {
  const proc = spawn(process.execPath, ['bin/gantry.js', 'serve', '--listen', '127.0.0.1:0', '--log-level', 'error', '--rate-limit', '0', ...args], {
    env: { ...process.env, GANTRY_ADMIN_KEY: KEY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /^listening on (\S+)$/m.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (c) => reject(new Error(`gantry exited with ${c}`)));
  });
  return { proc, url };
}

async function run(engine: string, args: string[]) {
  let server = await start(args);
  const url = () => server.url;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(url() + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  await call('POST', '/v1/deployments', { name: 'jobs', image: 'img:1', gpu_type: 'none', command: ['true'], min_replicas: 0, max_replicas: 0 });

  const acknowledged = new Set<string>();
  const doneAcks = new Map<string, number>();
  /** Deployments: the last spec acknowledged for each name, or null once a delete was acknowledged. */
  const specs = new Map<string, { description: string } | null>();
  const uploads = new Map<string, string>();
  let secretValue = '';
  let running = true;
  let kills = 0;
  const retry = () => sleep(20);

  const submitter = async () => {
    while (running && acknowledged.size < TARGET) {
      try {
        const r = await call('POST', '/v1/queue/submit', { model: 'jobs', payload: { n: acknowledged.size } });
        if (r.status === 200) acknowledged.add(r.body.requestId);
      } catch {
        await retry();
      }
    }
  };
  const worker = async () => {
    while (running) {
      try {
        const r = await call('GET', '/internal/v1/queue/retrieve?model=jobs&timeout=200ms&hostname=w&claim_timeout=1');
        const job = r.body?.data;
        if (!job) continue;
        const done = await call('POST', '/internal/v1/videos/status', { model: 'jobs', request_id: job.request_id, status: 'done', payload: {} });
        if (done.status === 200) doneAcks.set(job.request_id, (doneAcks.get(job.request_id) ?? 0) + 1);
      } catch {
        await retry();
      }
    }
  };
  const mutator = async () => {
    for (let i = 0; running; i++) {
      const name = `d${i % 8}`;
      try {
        const existing = specs.get(name);
        const op = existing === undefined || existing === null ? 'create' : i % 3 === 0 ? 'delete' : 'update';
        const description = `rev ${i}`;
        const body = { name, image: 'img:1', gpu_type: 'none', command: ['node', HELLO], health_check_path: '/health', description };
        if (op === 'create' && (await call('POST', '/v1/deployments', body)).status === 200) specs.set(name, { description });
        if (op === 'update' && (await call('PATCH', `/v1/deployments/${name}`, { description })).status === 200) specs.set(name, { description });
        if (op === 'delete' && (await call('DELETE', `/v1/deployments/${name}`)).status === 200) specs.set(name, null);
        const value = `secret ${i}`;
        const s = await call(secretValue ? 'PATCH' : 'POST', secretValue ? '/v1/deployments/secrets/rot' : '/v1/deployments/secrets', { name: 'rot', value });
        if (s.status === 200) secretValue = value;
        const bytes = randomBytes(256 * 1024);
        const filename = `up/${i}.bin`;
        const u = await call('POST', '/v1/storage/upload-request', { filename });
        if (u.status === 200 && (await fetch(u.body.upload_url.url, { method: 'PUT', body: bytes })).status === 200) {
          uploads.set(filename, createHash('sha256').update(bytes).digest('hex'));
        } else uploads.set(filename, 'maybe');
      } catch {
        await retry();
      }
    }
  };

  const load = [submitter(), submitter(), worker(), worker(), worker(), mutator()];
  const started = Date.now();
  while (acknowledged.size < TARGET) {
    await sleep(1500 + Math.random() * 2500);
    server.proc.kill('SIGKILL');
    await new Promise((r) => server.proc.once('exit', r));
    kills++;
    server = await start(args);
  }
  const loadSeconds = (Date.now() - started) / 1000;
  // Let the workers finish what is left (claims cut off by a kill lapse after 1 s and are retried).
  const pending = async () => {
    const m = await call('GET', '/v1/queue/metrics?model=jobs');
    return m.body.total_jobs as number;
  };
  for (let i = 0; i < 600 && (await pending()) > 0; i++) await sleep(200);
  running = false;
  await Promise.all(load);

  let lost = 0;
  let notDone = 0;
  for (const id of acknowledged) {
    const r = await call('GET', `/v1/queue/status?model=jobs&request_id=${id}`);
    if (r.status === 404) lost++;
    else if (r.body.status !== 'done') notDone++;
  }
  const twice = [...doneAcks.values()].filter((n) => n > 1).length;

  // Deployments: each one there is whole and converged; each acknowledged delete stayed deleted.
  let broken = 0;
  for (const [name, spec] of specs) {
    const d = await call('GET', `/v1/deployments/${name}`);
    if (spec === null) continue; // a delete acknowledged and then re-created by a later op is in `specs` as created
    if (d.status !== 200 || typeof d.body.description !== 'string' || !d.body.description.startsWith('rev ')) broken++;
  }
  let statuses = '';
  const converged = await (async () => {
    for (let i = 0; i < 300; i++) {
      const list = (await call('GET', '/v1/deployments')).body.data as { name: string; status: string; replica_events: object }[];
      statuses = list.map((d) => `${d.name} ${d.status} (${Object.keys(d.replica_events).length} replicas)`).join(', ');
      // Each at its one replica, none duplicated by a restart (the queue's deployment is at zero by design).
      if (list.every((d) => (d.name === 'jobs' ? d.status === 'ScaledToZero' : d.status === 'Ready' && Object.keys(d.replica_events).length === 1)))
        return true;
      await sleep(200);
    }
    return false;
  })();
  if (!converged) console.error(`${engine}: not converged after 60 s: ${statuses}`);
  // The secret: its last acknowledged value or a later attempt, and it opens (the reconciler can use it).
  const secret = await call('GET', '/v1/deployments/secrets/rot');
  // Uploads: whole or absent.
  let cut = 0;
  for (const [filename, sha] of uploads) {
    const r = await fetch(`${url()}/v1/storage/${filename}`, { headers });
    if (r.status === 404) {
      if (sha !== 'maybe') cut++; // acknowledged, then lost
      continue;
    }
    const got = createHash('sha256')
      .update(Buffer.from(await r.arrayBuffer()))
      .digest('hex');
    if (sha !== 'maybe' ? got !== sha : got.length !== 64) cut++;
  }
  server.proc.kill('SIGTERM');
  await new Promise((r) => server.proc.once('exit', r));
  return {
    engine,
    kills,
    loadSeconds,
    acknowledged: acknowledged.size,
    lost,
    notDone,
    twice,
    deployments: specs.size,
    broken,
    converged,
    secretOk: secret.status === 200,
    uploads: uploads.size,
    cut,
  };
}

const work = mkdtempSync(join(tmpdir(), 'gantry-durability-'));
const pg = await startPostgres();
try {
  const rows = [await run('sqlite', ['--data-dir', join(work, 'sqlite')]), await run('postgres', ['--data-dir', join(work, 'pg'), '--database', pg.url])];
  console.log('| Engine | SIGKILLs | Jobs acknowledged | Lost | Not done | Done twice | Deployments whole / converged | Uploads cut short |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.engine} | ${r.kills} in ${r.loadSeconds.toFixed(0)} s | ${r.acknowledged} | ${r.lost} | ${r.notDone} | ${r.twice} | ${r.deployments - r.broken}/${r.deployments} whole, ${r.converged ? 'converged' : 'NOT converged'}; secret ${r.secretOk ? 'opens' : 'BROKEN'} | ${r.cut} of ${r.uploads} |`,
    );
  }
} finally {
  pg.stop();
  rmSync(work, { recursive: true, force: true });
}
