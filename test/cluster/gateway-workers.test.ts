import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/app.js';
import { apiCaller, startGantry, workerDeployment, type GantryProcess } from '../helpers/gantry-process.js';

/** The processes whose parent is `pid` (from /proc/<pid>/stat, field 4). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const p of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(pid)) children.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * `--gateway-workers 2` as an operator meets it (the gateway's own behaviour with workers is
 * test/api/gateway.test.ts, run both ways): /metrics counts every worker's requests, and the
 * workers end with the main process, even when it is killed outright.
 */
describe('gateway workers', () => {
  const key = 'gateway-workers-key-0123456789abcdef0123456789';
  const dir = mkdtempSync(join(tmpdir(), 'gantry-gww-'));
  let g: GantryProcess;
  const call = apiCaller(() => g.url, key);

  before(async () => {
    g = await startGantry(['--data-dir', dir, '--gateway-workers', '2', '--rate-limit', '0'], { GANTRY_ADMIN_KEY: key });
  });
  after(async () => {
    await g?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('every request through any worker is counted once in /metrics; the API answers through the workers', async () => {
    assert.equal((await call('POST', '/v1/deployments', workerDeployment('web'))).status, 200);
    const ready = await eventually(
      () => call('GET', '/v1/deployments/web'),
      (r) => r.body.ready_replicas === 1,
      20000,
    );
    assert.equal(ready.body.ready_replicas, 1);
    // Connections of their own, so the kernel spreads them over both workers.
    const once = () =>
      new Promise<number | undefined>((resolve, reject) =>
        get(`${g.url}/v1/deployment-request/web/echo`, { agent: false, headers: { authorization: `Bearer ${key}` } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        }).on('error', reject),
      );
    const answers = await Promise.all(Array.from({ length: 40 }, once));
    assert.deepEqual(new Set(answers), new Set([200]));
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    assert.match(metrics, /^gantry_gateway_requests_total\{project="default",deployment="web",status="200"\} 40$/m);
    assert.match(metrics, /^gantry_leader 1$/m, "the main process's own series are there too");
  });

  test('SIGKILL of the main process leaves no worker behind', async () => {
    const workers = childrenOf(g.proc.pid!).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('serve'));
    assert.equal(workers.length, 2, 'two gateway workers run');
    await g.stop('SIGKILL');
    const left = await eventually(
      async () => workers.filter(alive),
      (l) => l.length === 0,
      10000,
    );
    assert.deepEqual(left, []);
  });
});
