import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerApi } from '../../src/runtime/docker/docker-api.js';
import { DockerDriver, type DockerDriverOptions } from '../../src/runtime/docker/docker-driver.js';
import { loadRegistryAuths } from '../../src/runtime/docker/image-puller.js';
import { registryOf } from '../../src/domain/image-ref.js';
import type { ReplicaState, RevisionSpec, RuntimeDriver } from '../../src/contract/runtime.js';
import { FAST_REPLICAS, revisionSpec, tempDirs, untilReplicas } from '../helpers/runtime.js';

/**
 * What only the docker runtime does, against Podman's Docker-compatible API: adoption after a
 * restart, the container's configuration, image pulls. The shared behaviour is in
 * driver-contract.test.ts.
 */
const host = process.env.GANTRY_TEST_DOCKER_HOST;
const skip = host ? undefined : (process.env.GANTRY_TEST_DOCKER_SKIP ?? 'GANTRY_TEST_DOCKER_HOST is not set (npm test sets it when podman is installed)');
const tempDir = tempDirs('gantry-docker-');

function options(extra: Partial<DockerDriverOptions> = {}): DockerDriverOptions {
  return { host: host!, dir: tempDir(), owner: `test-${randomUUID()}`, ...FAST_REPLICAS, ...extra };
}

function revision(revisionId: string, extra: Partial<RevisionSpec> = {}): RevisionSpec {
  return revisionSpec({ deploymentId: 'dep_d', deploymentName: 'box', revisionId, image: process.env.GANTRY_TEST_WORKER_IMAGE ?? '', ...extra });
}

const until = (driver: RuntimeDriver, ok: (rs: ReplicaState[]) => boolean, what: string) => untilReplicas(driver, ok, what, 'dep_d');

interface Inspected {
  Id: string;
  Config: { Labels: Record<string, string>; Env: string[] };
  HostConfig: { NanoCpus: number; Memory: number; Binds: string[] };
  NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[]> };
}

async function containersOf(api: DockerApi, owner: string): Promise<Inspected[]> {
  const filters = JSON.stringify({ label: [`gantry.owner=${owner}`] });
  const { body } = await api.call<{ Id: string }[]>('GET', '/containers/json', { query: { filters } });
  return Promise.all(body.map(async (c) => (await api.call<Inspected>('GET', `/containers/${c.Id}/json`)).body));
}

describe('docker runtime (Podman)', { ...(skip ? { skip } : {}) }, () => {
  const api = host ? new DockerApi(host) : null;
  after(() => api?.close());

  test('containers carry labels, limits, env, a loopback port and read-only volumes', async () => {
    const o = options();
    const volume = tempDir();
    chmodSync(volume, 0o755);
    writeFileSync(join(volume, 'weights.txt'), 'v1 weights');
    chmodSync(join(volume, 'weights.txt'), 0o644);
    const driver = await DockerDriver.open(o);
    try {
      await driver.apply('dep_d', [{ revisionId: 'rev-1', revision: revision('rev-1', { volumes: [{ hostPath: volume, mountPath: '/data' }] }), replicas: 1 }]);
      const [r] = await until(driver, (rs) => rs[0]?.readySince != null, 'ready');
      const [c] = await containersOf(api!, o.owner!);
      assert.equal(c!.Config.Labels['gantry.deployment'], 'dep_d');
      assert.equal(c!.Config.Labels['gantry.revision'], 'rev-1');
      assert.equal(c!.Config.Labels['gantry.replica'], r!.id);
      assert.equal(c!.HostConfig.NanoCpus, 500_000_000);
      assert.equal(c!.HostConfig.Memory, 256 * 1024 * 1024);
      const [binding] = c!.NetworkSettings.Ports['8000/tcp']!;
      assert.equal(binding!.HostIp, '127.0.0.1', 'published on loopback only');
      assert.equal(r!.address, `127.0.0.1:${binding!.HostPort}`);
      assert.ok(c!.Config.Env.includes('GREETING=hi') && c!.Config.Env.includes('PORT=8000'));

      const read = await fetch(`http://${r!.address}/file?path=/data/weights.txt`);
      assert.equal(await read.text(), 'v1 weights');
      const write = await fetch(`http://${r!.address}/file?path=/data/new.txt`, { method: 'PUT' });
      assert.equal(await write.text(), 'EROFS', 'the volume is mounted read-only');
    } finally {
      await driver.apply('dep_d', []);
      await driver.close();
    }
  });

  test('after a restart the driver adopts its running containers instead of starting duplicates, and replaces them the same way when they exit', async () => {
    const o = options();
    const first = await DockerDriver.open(o);
    await first.apply('dep_d', [{ revisionId: 'rev-1', revision: revision('rev-1', { env: { GREETING: 'adopted', CRASH_AFTER_MS: '4000' } }), replicas: 1 }]);
    const [before] = await until(first, (rs) => rs[0]?.readySince != null, 'ready');
    await first.close();
    const [running] = await containersOf(api!, o.owner!);
    assert.ok(running, 'closing the driver leaves the container running');

    const second = await DockerDriver.open(o);
    try {
      assert.deepEqual(second.deployments(), ['dep_d']);
      const [adopted] = await until(second, (rs) => rs[0]?.readySince != null, 'the adopted replica ready');
      assert.equal(adopted!.id, before!.id);
      assert.equal(adopted!.address, before!.address);
      // The reconciler's next apply finds the replica it asks for already there.
      await second.apply('dep_d', [{ revisionId: 'rev-1', revision: revision('rev-1'), replicas: 1 }]);
      assert.equal(second.observe('dep_d').length, 1);
      assert.equal((await containersOf(api!, o.owner!)).length, 1, 'no duplicate container');

      // It crashes after 4 s; the replacement has the same configuration, secrets included.
      const [replaced] = await until(second, (rs) => rs[0]?.restarts === 1 && rs[0].readySince != null, 'replaced after its exit');
      const info = await (await fetch(`http://${replaced!.address}/env`)).json();
      assert.equal(info.env.GREETING, 'adopted');
    } finally {
      await second.apply('dep_d', []);
      await second.close();
    }
    assert.equal((await containersOf(api!, o.owner!)).length, 0);
  });

  test('an image that cannot be pulled leaves the replica Waiting with ErrImagePull and why', async () => {
    const driver = await DockerDriver.open(options());
    try {
      await driver.apply('dep_d', [{ revisionId: 'rev-x', revision: revision('rev-x', { image: '127.0.0.1:9/nowhere/worker:1' }), replicas: 1 }]);
      const [r] = await until(driver, (rs) => rs[0]?.reason === 'ErrImagePull', 'ErrImagePull');
      assert.equal(r!.status, 'Waiting');
      assert.match(r!.message!, /cannot pull image 127\.0\.0\.1:9\/nowhere\/worker:1: .*(refused|connect)/);
    } finally {
      await driver.apply('dep_d', []);
      await driver.close();
    }
  });

  test('an unreachable engine is a clear error when the driver opens', async () => {
    await assert.rejects(
      DockerDriver.open(options({ host: 'unix:///nonexistent/docker.sock' })),
      /cannot reach the container engine at unix:\/\/\/nonexistent\/docker\.sock/,
    );
  });
});

describe('registry credentials', () => {
  test('read from a Docker-style config.json, by registry host', () => {
    const path = join(tempDir(), 'config.json');
    writeFileSync(
      path,
      JSON.stringify({
        auths: { 'registry.local:5000': { auth: Buffer.from('bob:s3:cret').toString('base64') }, 'ghcr.io': { username: 'u', password: 'p' } },
      }),
    );
    assert.deepEqual(loadRegistryAuths(path), { 'registry.local:5000': { username: 'bob', password: 's3:cret' }, 'ghcr.io': { username: 'u', password: 'p' } });
    assert.equal(registryOf('registry.local:5000/team/app:1'), 'registry.local:5000');
    assert.equal(registryOf('localhost/app:1'), 'localhost');
    assert.equal(registryOf('team/app:1'), 'docker.io');
    assert.equal(registryOf('vllm/vllm-openai:latest'), 'docker.io');
  });
});
