import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { eventually } from '../helpers/app.js';
import { postgres } from '../helpers/engines.js';
import { apiCaller, startGantry, type GantryProcess } from '../helpers/gantry-process.js';

const kubeconfigPath = process.env.GANTRY_TEST_KUBECONFIG;
const skip =
  (kubeconfigPath ? undefined : 'GANTRY_TEST_KUBECONFIG is not set: run these with npm run test:k8s, which starts the test cluster') ||
  postgres.skip ||
  undefined;

/**
 * Two instances on one PostgreSQL with the kubernetes runtime (as on two machines: data dirs of
 * their own): the leader is killed outright and the other adopts the cluster's objects as they
 * are (the same pods, nothing created twice), then acts on them.
 */
describe('several instances with the kubernetes runtime', { ...(skip ? { skip } : {}) }, () => {
  const namespace = `gantry-ha-${Date.now().toString(36)}`;
  const key = 'k8s-ha-test-key-0123456789abcdef0123456789';
  const env = { GANTRY_ADMIN_KEY: key, GANTRY_SECRET_KEY: 'cd'.repeat(32) };
  const dirs: string[] = [];
  const instances: GantryProcess[] = [];
  let db: Awaited<ReturnType<typeof postgres.create>>;
  let core: k8s.CoreV1Api;
  const health = async (g: GantryProcess) => ((await (await fetch(`${g.url}/health`)).json()) as { leader: boolean }).leader;
  const pods = async (id: string) =>
    (await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/managed-by=gantry,gantry.dev/deployment=${id}` })).items
      .filter((p) => !p.metadata!.deletionTimestamp)
      .map((p) => p.metadata!.uid!)
      .sort();

  before(async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigPath!);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    db = await postgres.create();
    for (let i = 0; i < 2; i++) {
      const dir = mkdtempSync(join(tmpdir(), `gantry-k8s-ha-${i}-`));
      dirs.push(dir);
      instances.push(
        await startGantry(['--runtime', 'kubernetes', '--kubeconfig', kubeconfigPath!, '--namespace', namespace, '--data-dir', dir, '--database', db.url], env),
      );
    }
  });
  after(async () => {
    for (const g of instances) await g.stop();
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
    await db?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('the leader SIGKILLed: the other adopts the same pods, creates none, and scales them', async () => {
    const [a, b] = instances;
    assert.deepEqual([await health(a!), await health(b!)], [true, false]);
    const viaB = apiCaller(() => b!.url, key);
    const created = await viaB('POST', '/v1/deployments', {
      name: 'web',
      image: 'registry.example/web:1',
      gpu_type: 'h100-80gb',
      gpu_count: 1,
      port: 8000,
      health_check_path: '/health',
      min_replicas: 2,
      max_replicas: 2,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const ready = await eventually(
      () => viaB('GET', '/v1/deployments/web'),
      (r) => r.body.ready_replicas === 2,
      60_000,
    );
    assert.equal(ready.body.ready_replicas, 2, 'the follower reports what the leader runs');
    const before = await pods(ready.body.id);
    assert.equal(before.length, 2);

    a!.proc.kill('SIGKILL');
    assert.ok(
      await eventually(
        () => health(b!),
        (l) => l,
        30_000,
      ),
      'the survivor leads',
    );
    // Its controller has reconciled everything by now (it reports Ready from its own runtime).
    const adopted = await eventually(
      () => viaB('GET', '/v1/deployments/web'),
      (r) => r.body.ready_replicas === 2 && r.body.status === 'Ready',
      30_000,
    );
    assert.equal(adopted.body.ready_replicas, 2);
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(await pods(ready.body.id), before, 'the same two pods: adopted, none replaced or added');

    assert.equal((await viaB('PATCH', '/v1/deployments/web', { min_replicas: 3, max_replicas: 3 })).status, 200);
    const scaled = await eventually(
      () => pods(ready.body.id),
      (p) => p.length === 3,
      30_000,
    );
    assert.equal(scaled.length, 3, 'the new leader acts on the cluster');
    assert.ok(
      before.every((uid) => scaled.includes(uid)),
      'the two pods it adopted stay',
    );
    await viaB('DELETE', '/v1/deployments/web');
  });
});
