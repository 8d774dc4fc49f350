import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { DockerDriver } from '../../src/runtime/docker/docker-driver.js';
import { ProcessDriver } from '../../src/runtime/process/process-driver.js';
import { BwrapSandbox, findBwrap } from '../../src/runtime/process/sandbox.js';
import { GpuInventory, parseGpuDeclaration } from '../../src/runtime/gpus.js';
import type { ReplicaState, RevisionSpec, RuntimeDriver } from '../../src/contract/runtime.js';
import { bwrapSkip, FAST_REPLICAS, revisionSpec, tempDirs, untilReplicas, untilTrue } from '../helpers/runtime.js';

/**
 * The contract every runtime driver passes, run against real workloads: child processes, and
 * containers through Podman's Docker-compatible API (started by `npm test`).
 */
const worker = fileURLToPath(new URL('../fixtures/worker.js', import.meta.url));
const tempDir = tempDirs('gantry-rt-');
const bwrapWhy = bwrapSkip();

interface DriverCase {
  name: string;
  skip?: string;
  make(gpus?: GpuInventory): Promise<RuntimeDriver>;
  /** How the driver runs the worker fixture. */
  workload: Pick<RevisionSpec, 'image' | 'command' | 'args'>;
  /** PORT as the replica sees it. */
  portInside(address: string): string;
  /** The variable that tells the workload which GPUs it has. */
  gpuEnv: string;
  /** Where the workload finds a file under a volume's mount path. */
  volumePath(mountPath: string): string;
}

/** Each driver, made with fast timings and the given GPUs (none by default). */
const drivers: DriverCase[] = [
  {
    name: 'process',
    make: async (gpus) => new ProcessDriver({ dir: tempDir(), ...FAST_REPLICAS, ...(gpus ? { gpus } : {}) }),
    workload: { image: 'local/worker:1', command: [process.execPath], args: [worker] },
    portInside: (address) => address.split(':')[1]!,
    gpuEnv: 'CUDA_VISIBLE_DEVICES',
    // No mount namespace: relative to the working directory.
    volumePath: (p) => `.${p}`,
  },
  {
    name: 'process in bubblewrap',
    ...(bwrapWhy ? { skip: bwrapWhy } : {}),
    make: async (gpus) => {
      // The driver's folder stands for the data dir: hidden, but for each replica's own directory.
      const dir = tempDir();
      return new ProcessDriver({ dir, ...FAST_REPLICAS, ...(gpus ? { gpus } : {}), sandbox: new BwrapSandbox(findBwrap()!, [dir]) });
    },
    workload: { image: 'local/worker:1', command: [process.execPath], args: [worker] },
    portInside: (address) => address.split(':')[1]!,
    gpuEnv: 'CUDA_VISIBLE_DEVICES',
    volumePath: (p) => `.${p}`,
  },
  {
    name: 'docker (Podman)',
    ...(process.env.GANTRY_TEST_DOCKER_HOST
      ? {}
      : { skip: process.env.GANTRY_TEST_DOCKER_SKIP ?? 'GANTRY_TEST_DOCKER_HOST is not set (npm test sets it when podman is installed)' }),
    make: (gpus) =>
      DockerDriver.open({
        host: process.env.GANTRY_TEST_DOCKER_HOST!,
        dir: tempDir(),
        owner: `test-${randomUUID()}`,
        ...FAST_REPLICAS,
        ...(gpus ? { gpus } : {}),
      }),
    workload: { image: process.env.GANTRY_TEST_WORKER_IMAGE ?? '', command: ['/usr/local/bin/node'], args: ['/app/worker.js'] },
    portInside: () => '8000',
    gpuEnv: 'NVIDIA_VISIBLE_DEVICES',
    volumePath: (p) => p,
  },
];

function revision(d: DriverCase, revisionId: string, extra: Partial<RevisionSpec> = {}): RevisionSpec {
  return revisionSpec({ revisionId, ...d.workload, ...extra });
}

const until = (driver: RuntimeDriver, ok: (rs: ReplicaState[]) => boolean, what: string) => untilReplicas(driver, ok, what);

/** Runs `fn` with a driver and always removes what it ran and closes it, so no replica outlives its test. */
async function withDriver(made: Promise<RuntimeDriver>, fn: (driver: RuntimeDriver) => Promise<void>) {
  const driver = await made;
  try {
    await fn(driver);
  } finally {
    for (const id of driver.deployments()) await driver.apply(id, []);
    await driver.close();
  }
}

const ready = (rs: ReplicaState[], n: number) => rs.filter((r) => r.readySince).length === n;

for (const d of drivers) {
  describe(`runtime driver contract: ${d.name}`, { ...(d.skip ? { skip: d.skip } : {}) }, () => {
    test('runs the requested replicas; each is ready only once its health check answers 200', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [
          {
            revisionId: 'rev-a',
            revision: revision(d, 'rev-a', {
              env: { GREETING: 'hi', READY_AFTER_MS: '300' },
              args: [...d.workload.args, '--greeting=$(GREETING)', '$$(GREETING)'],
            }),
            replicas: 2,
          },
        ]);
        const early = driver.observe('dep_1');
        assert.equal(early.length, 2);
        assert.ok(
          early.every((r) => !r.readySince),
          'not ready before the health check passes',
        );
        const rs = await until(driver, (rs) => ready(rs, 2), 'two ready replicas');
        for (const r of rs) {
          assert.equal(r.status, 'Running');
          assert.equal(r.revisionId, 'rev-a');
          const info = await (await fetch(`http://${r.address}/env`)).json();
          assert.equal(info.env.GREETING, 'hi');
          assert.equal(info.env.PORT, d.portInside(r.address!));
          assert.deepEqual(info.argv, ['--greeting=hi', '$(GREETING)'], '$(VAR) expands; $$(VAR) escapes');
        }
        assert.notEqual(rs[0]!.address, rs[1]!.address);
      }));

    test('without a health path a replica is ready once its port accepts connections, not when it starts', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [
          { revisionId: 'rev-a', revision: revision(d, 'rev-a', { healthCheckPath: '', env: { LISTEN_AFTER_MS: '1500' } }), replicas: 1 },
        ]);
        const [running] = await until(driver, (rs) => rs[0]?.status === 'Running', 'a running replica');
        assert.equal(running!.readySince, null, 'running but not listening yet: not ready');
        const [r] = await until(driver, (rs) => ready(rs, 1), 'ready once it listens');
        assert.equal((await fetch(`http://${r!.address}/env`)).status, 200, 'ready means it answers');
      }));

    test('a crashing replica shows CrashLoopBackOff with its exit code and is restarted', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [{ revisionId: 'rev-crash', revision: revision(d, 'rev-crash', { env: { CRASH_AFTER_MS: '100' } }), replicas: 1 }]);
        const [r] = await until(driver, (rs) => rs[0]?.reason === 'CrashLoopBackOff', 'CrashLoopBackOff');
        assert.equal(r!.status, 'Waiting');
        assert.match(r!.message ?? '', /exited with code 3/);
        await until(driver, (rs) => (rs[0]?.restarts ?? 0) >= 2, 'a second restart');
      }));

    test('scaling down and removing a revision stop replicas with SIGTERM, then SIGKILL after the grace period', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [{ revisionId: 'rev-a', revision: revision(d, 'rev-a'), replicas: 2 }]);
        await until(driver, (rs) => ready(rs, 2), 'two ready replicas');
        await driver.apply('dep_1', [{ revisionId: 'rev-a', revision: revision(d, 'rev-a'), replicas: 1 }]);
        assert.equal(driver.observe('dep_1').length, 1);

        await driver.apply('dep_1', [
          {
            revisionId: 'rev-stubborn',
            revision: revision(d, 'rev-stubborn', { env: { IGNORE_SIGTERM: '1' }, terminationGracePeriodSeconds: 1 }),
            replicas: 1,
          },
        ]);
        const [stubborn] = await until(driver, (rs) => rs.some((r) => r.revisionId === 'rev-stubborn' && r.readySince), 'the new revision ready');
        assert.deepEqual(
          driver.observe('dep_1').map((r) => r.revisionId),
          ['rev-stubborn'],
          'unlisted revisions go to zero',
        );
        const address = stubborn!.address!;
        const started = Date.now();
        await driver.apply('dep_1', []);
        assert.ok(Date.now() - started >= 900, 'a replica ignoring SIGTERM gets its grace period');
        assert.deepEqual(driver.observe('dep_1'), []);
        await assert.rejects(fetch(`http://${address}/health`), 'the process is gone');
      }));

    test('a replica stopped the moment it started still gets SIGTERM, not its whole grace period', () =>
      withDriver(d.make(), async (driver) => {
        // Stopped while its process is still coming up (in a sandbox: before bwrap has started it).
        for (let i = 0; i < 5; i++) {
          await driver.apply('dep_1', [{ revisionId: 'rev-a', revision: revision(d, 'rev-a', { terminationGracePeriodSeconds: 300 }), replicas: 1 }]);
          await until(driver, (rs) => rs[0]?.status === 'Running', 'its process spawned');
          const stopped = driver.apply('dep_1', [{ revisionId: 'rev-a', replicas: 0 }]);
          const outcome = await Promise.race([stopped.then(() => 'stopped'), new Promise((r) => setTimeout(r, 30_000, 'still waiting'))]);
          assert.equal(outcome, 'stopped', 'SIGTERM reached the workload: it did not wait out the 300 s grace period');
          assert.deepEqual(driver.observe('dep_1'), []);
        }
      }));

    test('logs: by replica and revision, kept after a crash, and followed as they come (new replicas too)', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [{ revisionId: 'rev-log', revision: revision(d, 'rev-log'), replicas: 1 }]);
        const [r] = await until(driver, (rs) => ready(rs, 1), 'ready');
        await untilTrue(async () => (await driver.logs('dep_1', {})).some((l) => /worker listening on \d+/.test(l)), 'the first line in the log');
        assert.deepEqual(await driver.logs('dep_1', { revisionId: 'other' }), []);
        assert.equal((await driver.logs('dep_1', { replicaId: r!.id })).length, 1);

        const seen: string[] = [];
        const stop = driver.followLogs('dep_1', {}, (lines) => seen.push(...lines));
        await fetch(`http://${r!.address}/env`);
        await untilTrue(() => seen.includes('served /env'), 'the followed line');
        assert.ok(!seen.some((l) => /worker listening/.test(l)), 'following starts at the end of the log');
        await driver.apply('dep_1', [
          { revisionId: 'rev-log', replicas: 1 },
          { revisionId: 'rev-crash', revision: revision(d, 'rev-crash', { env: { CRASH_AFTER_MS: '50' } }), replicas: 1 },
        ]);
        const crashed = (await until(driver, (rs) => rs.some((x) => x.reason === 'CrashLoopBackOff'), 'a crash')).find((x) => x.reason === 'CrashLoopBackOff')!;
        await untilTrue(
          async () => (await driver.logs('dep_1', { replicaId: crashed.id })).some((l) => /worker listening/.test(l)),
          "a crashed replica's output",
        );
        await untilTrue(() => seen.some((l) => /worker listening/.test(l)), 'a replica started after following began is followed too');
        stop();
      }));

    test('GPUs: a replica gets its own devices, and waits Unschedulable when none are free', () =>
      withDriver(d.make(new GpuInventory(parseGpuDeclaration('h100-80gb:2'))), async (driver) => {
        const gpu = revision(d, 'rev-gpu', { gpuType: 'h100-80gb', gpuCount: 1 });
        await driver.apply('dep_1', [{ revisionId: 'rev-gpu', revision: gpu, replicas: 3 }]);
        const rs = await until(driver, (rs) => ready(rs, 2) && rs.some((r) => r.reason === 'Unschedulable'), 'two running, one waiting');
        const waiting = rs.find((r) => r.reason === 'Unschedulable')!;
        assert.equal(waiting.status, 'Waiting');
        assert.match(waiting.message!, /needs 1 × h100-80gb GPU; 0 of 2 free/);
        const devices = await Promise.all(
          rs.filter((r) => r.readySince).map(async (r) => (await (await fetch(`http://${r.address}/env`)).json()).env[d.gpuEnv]),
        );
        assert.deepEqual(devices.sort(), ['0', '1']);

        await driver.apply('dep_1', [{ revisionId: 'rev-gpu', revision: gpu, replicas: 2 }]);
        await until(driver, (rs) => rs.length === 2 && ready(rs, 2), 'the waiting replica dropped first');

        const wrong = revision(d, 'rev-b200', { gpuType: 'b200-192gb', gpuCount: 1 });
        await driver.apply('dep_1', [{ revisionId: 'rev-b200', revision: wrong, replicas: 1 }]);
        const [b] = await until(driver, (rs) => rs.length === 1 && rs[0]!.reason === 'Unschedulable', 'no b200 on this machine');
        assert.match(b!.message!, /b200-192gb GPU; 0 of 0 free/);

        await driver.apply('dep_1', [{ revisionId: 'rev-cpu', revision: revision(d, 'rev-cpu'), replicas: 1 }]);
        const [c] = await until(driver, (rs) => rs.length === 1 && ready(rs, 1), 'cpu-only ready');
        const cpuOnly = await (await fetch(`http://${c!.address}/env`)).json();
        assert.equal(cpuOnly.env[d.gpuEnv], '', 'a CPU-only replica sees no GPU');
      }));

    test("volumes: a version's directory appears at the mount path before the replica starts", () =>
      withDriver(d.make(), async (driver) => {
        const weights = join(tempDir(), 'proj', 'models', '3');
        mkdirSync(weights, { recursive: true, mode: 0o755 });
        writeFileSync(join(weights, 'weights.txt'), 'v3 weights', { mode: 0o644 });
        const empty = join(tempDir(), 'proj', 'cache', '1');
        await driver.apply('dep_1', [
          {
            revisionId: 'rev-v',
            revision: revision(d, 'rev-v', {
              volumes: [
                { hostPath: weights, mountPath: '/mnt/models' },
                { hostPath: empty, mountPath: '/cache' },
              ],
            }),
            replicas: 1,
          },
        ]);
        const [r] = await until(driver, (rs) => ready(rs, 1), 'ready');
        const read = await fetch(`http://${r!.address}/file?path=${d.volumePath('/mnt/models/weights.txt')}`);
        assert.equal(await read.text(), 'v3 weights');
        assert.ok(statSync(empty).isDirectory(), 'a volume without contents yet is an empty directory, not a failed start');
      }));

    test('a target without a spec keeps or stops what runs but starts nothing; an empty list forgets the deployment', () =>
      withDriver(d.make(), async (driver) => {
        await driver.apply('dep_1', [{ revisionId: 'rev-a', revision: revision(d, 'rev-a'), replicas: 1 }]);
        await until(driver, (rs) => ready(rs, 1), 'ready');
        await driver.apply('dep_1', [{ revisionId: 'rev-a', replicas: 3 }]);
        assert.equal(driver.observe('dep_1').length, 1);
        assert.deepEqual(driver.deployments(), ['dep_1']);
        await untilTrue(async () => (await driver.logs('dep_1', {})).length > 0, 'output in the log');
        await driver.apply('dep_1', []);
        assert.deepEqual(driver.deployments(), []);
        assert.deepEqual(await driver.logs('dep_1', {}), [], 'a deleted deployment leaves no logs behind');
      }));
  });
}
