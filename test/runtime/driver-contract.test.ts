import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessDriver } from '../../src/runtime/process/process-driver.js';
import type { ReplicaState, RevisionSpec, RuntimeDriver } from '../../src/runtime/types.js';

/**
 * The contract every runtime driver passes, run against real workloads. Only the process
 * driver exists so far; the docker driver joins this list when it lands.
 */
const worker = fileURLToPath(new URL('../fixtures/worker.js', import.meta.url));
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const drivers: { name: string; make(): RuntimeDriver }[] = [
  {
    name: 'process',
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), 'gantry-rt-'));
      dirs.push(dir);
      return new ProcessDriver({ dir, probeIntervalMs: 50, probeTimeoutMs: 500, baseBackoffMs: 100, maxBackoffMs: 400 });
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

const ready = (rs: ReplicaState[], n: number) => rs.filter((r) => r.readySince).length === n;

for (const d of drivers) {
  describe(`runtime driver contract: ${d.name}`, () => {
    test('runs the requested replicas; each is ready only once its health check answers 200', async () => {
      const driver = d.make();
      try {
        await driver.apply('dep_1', [{ revision: revision('rev-a', { env: { GREETING: 'hi', READY_AFTER_MS: '300' }, args: [worker, '--greeting=$(GREETING)', '$$(GREETING)'] }), replicas: 2 }]);
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
      } finally {
        await driver.close();
      }
    });

    test('a crashing replica shows CrashLoopBackOff with its exit code and is restarted', async () => {
      const driver = d.make();
      try {
        await driver.apply('dep_1', [{ revision: revision('rev-crash', { env: { CRASH_AFTER_MS: '100' } }), replicas: 1 }]);
        const [r] = await until(driver, (rs) => rs[0]?.reason === 'CrashLoopBackOff', 'CrashLoopBackOff');
        assert.equal(r!.status, 'Waiting');
        assert.match(r!.message ?? '', /exited with code 3/);
        await until(driver, (rs) => (rs[0]?.restarts ?? 0) >= 2, 'a second restart');
      } finally {
        await driver.close();
      }
    });

    test('scaling down and removing a revision stop replicas with SIGTERM, then SIGKILL after the grace period', async () => {
      const driver = d.make();
      try {
        await driver.apply('dep_1', [{ revision: revision('rev-a'), replicas: 2 }]);
        await until(driver, (rs) => ready(rs, 2), 'two ready replicas');
        await driver.apply('dep_1', [{ revision: revision('rev-a'), replicas: 1 }]);
        assert.equal(driver.observe('dep_1').length, 1);

        await driver.apply('dep_1', [{ revision: revision('rev-stubborn', { env: { IGNORE_SIGTERM: '1' }, terminationGracePeriodSeconds: 1 }), replicas: 1 }]);
        const [stubborn] = await until(driver, (rs) => rs.some((r) => r.revisionId === 'rev-stubborn' && r.readySince), 'the new revision ready');
        assert.deepEqual(driver.observe('dep_1').map((r) => r.revisionId), ['rev-stubborn'], 'unlisted revisions go to zero');
        const address = stubborn!.address!;
        const started = Date.now();
        await driver.apply('dep_1', []);
        assert.ok(Date.now() - started >= 900, 'a replica ignoring SIGTERM gets its grace period');
        assert.deepEqual(driver.observe('dep_1'), []);
        await assert.rejects(fetch(`http://${address}/health`), 'the process is gone');
      } finally {
        await driver.close();
      }
    });

    test('a replica keeps its output in a log file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gantry-rt-log-'));
      dirs.push(dir);
      const driver = new ProcessDriver({ dir, probeIntervalMs: 50 });
      try {
        await driver.apply('dep_1', [{ revision: revision('rev-log'), replicas: 1 }]);
        const [r] = await until(driver, (rs) => ready(rs, 1), 'ready');
        await driver.close();
        assert.match(readFileSync(join(dir, r!.id, 'output.log'), 'utf8'), /worker listening on \d+/);
      } finally {
        await driver.close();
      }
    });
  });
}
