import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessDriver } from '../../src/runtime/process/process-driver.js';
import { GpuInventory, parseGpuDeclaration } from '../../src/runtime/gpus.js';
import type { ReplicaState, RevisionSpec, RuntimeDriver } from '../../src/runtime/types.js';

/**
 * The contract every runtime driver passes, run against real workloads. Only the process
 * driver exists so far; the docker driver joins this list when it lands.
 */
const worker = fileURLToPath(new URL('../fixtures/worker.js', import.meta.url));
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Each driver, made with fast timings and the given GPUs (none by default). */
const drivers: { name: string; make(gpus?: GpuInventory): RuntimeDriver }[] = [
  {
    name: 'process',
    make: (gpus) => {
      const dir = mkdtempSync(join(tmpdir(), 'gantry-rt-'));
      dirs.push(dir);
      return new ProcessDriver({ dir, probeIntervalMs: 50, probeTimeoutMs: 500, baseBackoffMs: 100, maxBackoffMs: 400, ...(gpus ? { gpus } : {}) });
    },
  },
];

function revision(revisionId: string, extra: Partial<RevisionSpec> = {}): RevisionSpec {
  return {
    deploymentId: 'dep_1',
    deploymentName: 'echo',
    revisionId,
    image: 'local/worker:1',
    command: [process.execPath],
    args: [worker],
    env: { GREETING: 'hi' },
    cpu: 0.5,
    memoryGiB: 0.25,
    gpuType: 'none',
    gpuCount: 0,
    port: 8000,
    healthCheckPath: '/health',
    volumes: [],
    terminationGracePeriodSeconds: 2,
    ...extra,
  };
}

/** Waits until the driver's view of dep_1 satisfies `ok`, re-checking on every change. */
function until(driver: RuntimeDriver, ok: (rs: ReplicaState[]) => boolean, what: string, ms = 10000): Promise<ReplicaState[]> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const rs = driver.observe('dep_1');
      if (ok(rs)) {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(rs);
      }
    };
    const timer = setTimeout(() => (clearInterval(poll), reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(driver.observe('dep_1'))}`))), ms);
    const poll = setInterval(check, 20);
    check();
  });
}

/** Runs `fn` with a driver and always closes it, so no replica outlives its test. */
async function withDriver(driver: RuntimeDriver, fn: (driver: RuntimeDriver) => Promise<void>) {
  try {
    await fn(driver);
  } finally {
    await driver.close();
  }
}

const ready = (rs: ReplicaState[], n: number) => rs.filter((r) => r.readySince).length === n;

for (const d of drivers) {
  describe(`runtime driver contract: ${d.name}`, () => {
    test('runs the requested replicas; each is ready only once its health check answers 200', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [{ revisionId: 'rev-a', revision: revision('rev-a', { env: { GREETING: 'hi', READY_AFTER_MS: '300' }, args: [worker, '--greeting=$(GREETING)', '$$(GREETING)'] }), replicas: 2 }]);
        const early = driver.observe('dep_1');
        assert.equal(early.length, 2);
        assert.ok(early.every((r) => !r.readySince), 'not ready before the health check passes');
        const rs = await until(driver, (rs) => ready(rs, 2), 'two ready replicas');
        for (const r of rs) {
          assert.equal(r.status, 'Running');
          assert.equal(r.revisionId, 'rev-a');
          const info = await (await fetch(`http://${r.address}/env`)).json();
          assert.equal(info.env.GREETING, 'hi');
          assert.equal(info.env.PORT, r.address!.split(':')[1]);
          assert.deepEqual(info.argv, ['--greeting=hi', '$(GREETING)'], '$(VAR) expands; $$(VAR) escapes');
        }
        assert.notEqual(rs[0]!.address, rs[1]!.address);
      }));

    test('a crashing replica shows CrashLoopBackOff with its exit code and is restarted', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [{ revisionId: 'rev-crash', revision: revision('rev-crash', { env: { CRASH_AFTER_MS: '100' } }), replicas: 1 }]);
        const [r] = await until(driver, (rs) => rs[0]?.reason === 'CrashLoopBackOff', 'CrashLoopBackOff');
        assert.equal(r!.status, 'Waiting');
        assert.match(r!.message ?? '', /exited with code 3/);
        await until(driver, (rs) => (rs[0]?.restarts ?? 0) >= 2, 'a second restart');
      }));

    test('scaling down and removing a revision stop replicas with SIGTERM, then SIGKILL after the grace period', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [{ revisionId: 'rev-a', revision: revision('rev-a'), replicas: 2 }]);
        await until(driver, (rs) => ready(rs, 2), 'two ready replicas');
        await driver.apply('dep_1', [{ revisionId: 'rev-a', revision: revision('rev-a'), replicas: 1 }]);
        assert.equal(driver.observe('dep_1').length, 1);

        await driver.apply('dep_1', [{ revisionId: 'rev-stubborn', revision: revision('rev-stubborn', { env: { IGNORE_SIGTERM: '1' }, terminationGracePeriodSeconds: 1 }), replicas: 1 }]);
        const [stubborn] = await until(driver, (rs) => rs.some((r) => r.revisionId === 'rev-stubborn' && r.readySince), 'the new revision ready');
        assert.deepEqual(driver.observe('dep_1').map((r) => r.revisionId), ['rev-stubborn'], 'unlisted revisions go to zero');
        const address = stubborn!.address!;
        const started = Date.now();
        await driver.apply('dep_1', []);
        assert.ok(Date.now() - started >= 900, 'a replica ignoring SIGTERM gets its grace period');
        assert.deepEqual(driver.observe('dep_1'), []);
        await assert.rejects(fetch(`http://${address}/health`), 'the process is gone');
      }));

    test('logs: by replica and revision, kept after a crash, and followed as they come', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [{ revisionId: 'rev-log', revision: revision('rev-log'), replicas: 1 }]);
        const [r] = await until(driver, (rs) => ready(rs, 1), 'ready');
        assert.ok(driver.logs('dep_1', {}).some((l) => /worker listening on \d+/.test(l)));
        assert.deepEqual(driver.logs('dep_1', { revisionId: 'other' }), []);
        assert.equal(driver.logs('dep_1', { replicaId: r!.id }).length, 1);

        const seen: string[] = [];
        const stop = driver.followLogs('dep_1', {}, (lines) => seen.push(...lines));
        await fetch(`http://${r!.address}/env`);
        await new Promise<void>((resolve) => {
          const t = setInterval(() => seen.includes('served /env') && (clearInterval(t), resolve()), 20);
        });
        assert.ok(!seen.some((l) => /worker listening/.test(l)), 'following starts at the end of the log');
        await driver.apply('dep_1', [{ revisionId: 'rev-log', replicas: 1 }, { revisionId: 'rev-crash', revision: revision('rev-crash', { env: { CRASH_AFTER_MS: '50' } }), replicas: 1 }]);
        const crashed = (await until(driver, (rs) => rs.some((x) => x.reason === 'CrashLoopBackOff'), 'a crash')).find((x) => x.reason === 'CrashLoopBackOff')!;
        assert.ok(driver.logs('dep_1', { replicaId: crashed.id }).some((l) => /worker listening/.test(l)), "a crashed replica's output stays readable");
        stop();
      }));

    test('GPUs: a replica gets its own devices, and waits Unschedulable when none are free', () =>
      withDriver(d.make(new GpuInventory(parseGpuDeclaration('h100-80gb:2'))), async (driver) => {
        const gpu = revision('rev-gpu', { gpuType: 'h100-80gb', gpuCount: 1 });
        await driver.apply('dep_1', [{ revisionId: 'rev-gpu', revision: gpu, replicas: 3 }]);
        const rs = await until(driver, (rs) => ready(rs, 2) && rs.some((r) => r.reason === 'Unschedulable'), 'two running, one waiting');
        const waiting = rs.find((r) => r.reason === 'Unschedulable')!;
        assert.equal(waiting.status, 'Waiting');
        assert.match(waiting.message!, /needs 1 × h100-80gb GPU; 0 of 2 free/);
        const devices = await Promise.all(rs.filter((r) => r.readySince).map(async (r) => (await (await fetch(`http://${r.address}/env`)).json()).env.CUDA_VISIBLE_DEVICES));
        assert.deepEqual(devices.sort(), ['0', '1']);

        await driver.apply('dep_1', [{ revisionId: 'rev-gpu', revision: gpu, replicas: 2 }]);
        await until(driver, (rs) => rs.length === 2 && ready(rs, 2), 'the waiting replica dropped first');

        const wrong = revision('rev-b200', { gpuType: 'b200-192gb', gpuCount: 1 });
        await driver.apply('dep_1', [{ revisionId: 'rev-b200', revision: wrong, replicas: 1 }]);
        const [b] = await until(driver, (rs) => rs.length === 1 && rs[0]!.reason === 'Unschedulable', 'no b200 on this machine');
        assert.match(b!.message!, /b200-192gb GPU; 0 of 0 free/);

        await driver.apply('dep_1', [{ revisionId: 'rev-cpu', revision: revision('rev-cpu'), replicas: 1 }]);
        const [c] = await until(driver, (rs) => rs.length === 1 && ready(rs, 1), 'cpu-only ready');
        const cpuOnly = await (await fetch(`http://${c!.address}/env`)).json();
        assert.equal(cpuOnly.env.CUDA_VISIBLE_DEVICES, '', 'a CPU-only replica sees no GPU');
      }));

    test('a target without a spec keeps or stops what runs but starts nothing; an empty list forgets the deployment', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [{ revisionId: 'rev-a', revision: revision('rev-a'), replicas: 1 }]);
        await until(driver, (rs) => ready(rs, 1), 'ready');
        await driver.apply('dep_1', [{ revisionId: 'rev-a', replicas: 3 }]);
        assert.equal(driver.observe('dep_1').length, 1);
        assert.deepEqual(driver.deployments(), ['dep_1']);
        assert.ok(driver.logs('dep_1', {}).length > 0);
        await driver.apply('dep_1', []);
        assert.deepEqual(driver.deployments(), []);
        assert.deepEqual(driver.logs('dep_1', {}), [], 'a deleted deployment leaves no logs behind');
      }));
  });
}
