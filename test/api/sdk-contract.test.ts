import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Together from 'together-ai';
import { assertMatchesContract } from '../helpers/contract.js';
import { eventually as until } from '../helpers/app.js';
import { startGantry, type GantryProcess } from '../helpers/gantry-process.js';

const worker = new URL('../fixtures/worker.js', import.meta.url).pathname;

/**
 * The official `together-ai` SDK (0.52.0) against a real `gantry serve`, every response
 * checked against Together's OpenAPI contract for the same route.
 */
describe('together-ai SDK against gantry serve', () => {
  let gantry: GantryProcess;
  let client: Together;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-sdk-'));
    gantry = await startGantry(['--data-dir', dir]);
    const key = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
    client = new Together({ apiKey: key, baseURL: `${gantry.url}/v1`, maxRetries: 0 });
  });

  after(async () => {
    await gantry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('secrets: create, retrieve, list, update, delete; the value is never returned', async () => {
    const created = await client.beta.jig.secrets.create({ name: 'hf-token', value: 'hf_abc123', description: 'Hub token' });
    assertMatchesContract('/deployments/secrets', 'post', created);
    assert.equal(created.name, 'hf-token');
    assert.ok(!JSON.stringify(created).includes('hf_abc123'));

    const byName = await client.beta.jig.secrets.retrieve('hf-token');
    assertMatchesContract('/deployments/secrets/{id}', 'get', byName);
    assert.equal(byName.id, created.id);

    const updated = await client.beta.jig.secrets.update('hf-token', { value: 'hf_new', description: 'rotated' });
    assertMatchesContract('/deployments/secrets/{id}', 'patch', updated);
    assert.equal(updated.description, 'rotated');

    const list = await client.beta.jig.secrets.list();
    assertMatchesContract('/deployments/secrets', 'get', list);
    assert.deepEqual(
      list.data?.map((s) => s.name),
      ['hf-token'],
    );
    assert.ok(!JSON.stringify(list).includes('hf_new'));

    await client.beta.jig.secrets.delete(created.id!);
    await assert.rejects(client.beta.jig.secrets.retrieve('hf-token'), (e: any) => e.status === 404);
  });

  test('volumes: create, retrieve with version, list, update makes a new version, delete', async () => {
    const created = await client.beta.jig.volumes.create({
      name: 'weights',
      type: 'readOnly',
      content: { type: 'files', source_prefix: 'weights/0' },
    });
    assertMatchesContract('/deployments/storage/volumes', 'post', created);
    assert.equal(created.current_version, 0);

    const updated = await client.beta.jig.volumes.update('weights', { content: { type: 'files', source_prefix: 'weights/1' } });
    assertMatchesContract('/deployments/storage/volumes/{id}', 'patch', updated);
    assert.equal(updated.current_version, 1);
    assert.deepEqual(Object.keys(updated.version_history ?? {}).sort(), ['0', '1']);

    const v0 = await client.beta.jig.volumes.retrieve('weights', { version: 0 });
    assertMatchesContract('/deployments/storage/volumes/{id}', 'get', v0);
    assert.equal(v0.content?.source_prefix, 'weights/0');

    const list = await client.beta.jig.volumes.list();
    assertMatchesContract('/deployments/storage/volumes', 'get', list);
    assert.equal(list.data?.length, 1);

    await client.beta.jig.volumes.delete(created.id!);
    await assert.rejects(client.beta.jig.volumes.retrieve('weights'), (e: any) => e.status === 404);
  });

  test('deployments: deploy, retrieve by id and by name, list, update, destroy', async () => {
    await client.beta.jig.secrets.create({ name: 'api-token', value: 'tok_value_123' });
    await client.beta.jig.volumes.create({ name: 'models', type: 'readOnly', content: { type: 'files', source_prefix: 'models/0' } });

    const deployed = await client.beta.jig.deploy({
      name: 'sdk-worker',
      image: 'registry.example/sdk-worker:1',
      gpu_type: 'h100-80gb',
      gpu_count: 1,
      command: [process.execPath, worker],
      cpu: 2,
      memory: 16,
      port: 8000,
      min_replicas: 1,
      max_replicas: 3,
      health_check_path: '/health',
      environment_variables: [
        { name: 'MODE', value: 'fast' },
        { name: 'API_TOKEN', value_from_secret: 'api-token' },
      ],
      volumes: [{ name: 'models', mount_path: '/models' }],
      autoscaling: { metric: 'QueueBacklogPerWorker', target: 1.05 },
    });
    assertMatchesContract('/deployments', 'post', deployed);
    assert.equal(deployed.status, 'Updating', 'no replica is ready, so the deployment is not Ready');
    assert.equal(deployed.ready_replicas, 0);
    // This machine declares no GPUs, so the replica waits for one.
    const waiting = await until(
      () => client.beta.jig.retrieve('sdk-worker'),
      (d) => Object.values(d.replica_events ?? {}).some((e) => e.replica_status_reason === 'Unschedulable'),
    );
    assertMatchesContract('/deployments/{id}', 'get', waiting);
    const [event] = Object.values(waiting.replica_events!);
    assert.equal(event!.replica_status, 'Waiting');
    assert.match(event!.replica_status_message!, /needs 1 × h100-80gb GPU/);
    assert.equal(deployed.desired_replicas, 1);
    assert.deepEqual(deployed.autoscaling, { metric: 'QueueBacklogPerWorker', target: 1.05, model: 'sdk-worker' });
    assert.deepEqual(deployed.volumes, [{ name: 'models', mount_path: '/models', version: 0 }]);
    const revision = deployed.environment_variables?.find((e) => e.name === 'TOGETHER_DEPLOYMENT_REVISION_ID')?.value;
    assert.ok(revision, 'the revision id is listed in environment_variables');
    assert.ok(!JSON.stringify(deployed).includes('tok_value_123'));

    const byId = await client.beta.jig.retrieve(deployed.id!);
    const byName = await client.beta.jig.retrieve('sdk-worker');
    assertMatchesContract('/deployments/{id}', 'get', byName);
    assert.equal(byId.id, byName.id);
    assert.equal(byId.name, 'sdk-worker');

    const list = await client.beta.jig.list();
    assertMatchesContract('/deployments', 'get', list);
    assert.deepEqual(
      list.data?.map((d) => d.name),
      ['sdk-worker'],
    );

    const described = await client.beta.jig.update('sdk-worker', { description: 'only words' });
    assertMatchesContract('/deployments/{id}', 'patch', described);
    assert.equal(described.description, 'only words');
    assert.equal(
      described.environment_variables?.find((e) => e.name === 'TOGETHER_DEPLOYMENT_REVISION_ID')?.value,
      revision,
      'a change that runs nothing new keeps the revision',
    );

    const scaled = await client.beta.jig.update('sdk-worker', { gpu_count: 2, autoscaling: {} as any });
    assert.equal(scaled.gpu_count, 2);
    assert.equal(scaled.autoscaling, undefined, 'autoscaling: {} disables autoscaling');
    assert.notEqual(scaled.environment_variables?.find((e) => e.name === 'TOGETHER_DEPLOYMENT_REVISION_ID')?.value, revision);
    assert.equal(scaled.cpu, 2, 'fields left out keep their values');

    await assert.rejects(client.beta.jig.secrets.delete('api-token'), (e: any) => e.status === 409 && /sdk-worker/.test(e.message));

    // No replica ever started (no GPU here): the logs are an empty list, not an error.
    const logs = await client.beta.jig.retrieveLogs('sdk-worker');
    assertMatchesContract('/deployments/{id}/logs', 'get', logs);
    assert.deepEqual(logs.lines ?? [], []);

    const destroyed = await client.beta.jig.destroy('sdk-worker');
    assert.equal(typeof destroyed, 'object');
    await assert.rejects(client.beta.jig.retrieve('sdk-worker'), (e: any) => e.status === 404);
    await client.beta.jig.secrets.delete('api-token');
  });

  test("whoami names the key's project and Gantry as its organization", async () => {
    const me = await client.whoami();
    assert.match(me.project_id, /^proj_[0-9a-f]+$/);
    assert.equal(me.project_name, 'default');
    assert.equal(me.project_slug, 'default');
    assert.equal(me.organization_name, 'Gantry');
    assert.match(me.api_key_id, /^key_/);
  });

  test('a duplicate name is a 409 whose message says it already exists', async () => {
    await client.beta.jig.deploy({ name: 'twice', image: 'img:1', gpu_type: 'h100-80gb', command: [process.execPath, worker] });
    await assert.rejects(
      client.beta.jig.deploy({ name: 'twice', image: 'img:2', gpu_type: 'h100-80gb', command: [process.execPath, worker] }),
      (e: any) => e.status === 409 && /already exists/.test(e.message),
    );
    await client.beta.jig.destroy('twice');
  });
});
