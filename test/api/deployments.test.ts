import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const base = { image: 'img:1', gpu_type: 'h100-80gb' };

for (const engine of engines) {
  describe(`deployments API on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestApp;
    before(async () => (t = await startTestApp(engine, { wiring: { bodyLimit: 64 * 1024 } })));
    after(async () => t?.close());

    const rejects = async (body: unknown, param: string, message: RegExp) => {
      const r = await t.call('POST', '/v1/deployments', { body });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.type, 'invalid_request_error');
      assert.equal(r.body.error.param, param);
      assert.match(r.body.error.message, message);
    };

    test('each validation rule answers 400 naming the field and the rule', async () => {
      await rejects({ ...base }, 'name', /name is required/);
      await rejects({ ...base, name: 'has space' }, 'name', /must match/);
      await rejects({ ...base, name: 'x'.repeat(101) }, 'name', /must NOT have more than 100 characters/);
      await rejects({ ...base, name: 'ok', cpu: 0.05 }, 'cpu', />= 0.1/);
      await rejects({ ...base, name: 'ok', cpu: '2' }, 'cpu', /must be of type number/);
      await rejects({ ...base, name: 'ok', memory: 1001 }, 'memory', /<= 1000/);
      await rejects({ ...base, name: 'ok', memory: 0 }, 'memory', /> 0/);
      await rejects({ ...base, name: 'ok', storage: 401 }, 'storage', /<= 400/);
      await rejects({ ...base, name: 'ok', port: 0 }, 'port', />= 1/);
      await rejects({ ...base, name: 'ok', port: 65536 }, 'port', /<= 65535/);
      await rejects({ ...base, name: 'ok', gpu_type: 'tpu' }, 'gpu_type', /must be one of/);
      await rejects({ ...base, name: 'ok', gpu_type: 'none', gpu_count: 1 }, 'gpu_count', /must be 0 when gpu_type is "none"/);
      await rejects({ ...base, name: 'ok', bogus: 1 }, 'bogus', /not a known field/);
      await rejects({ ...base, name: 'ok', environment_variables: [{ name: '1BAD', value: 'x' }] }, 'environment_variables[0].name', /must match/);
      await rejects({ ...base, name: 'ok', environment_variables: [{ name: 'A' }] }, 'environment_variables[0]', /exactly one of value or value_from_secret/);
      await rejects(
        { ...base, name: 'ok', environment_variables: [{ name: 'A', value: '1', value_from_secret: 's' }] },
        'environment_variables[0]',
        /exactly one/,
      );
      await rejects(
        { ...base, name: 'ok', environment_variables: [{ name: 'A', value_from_secret: 'missing' }] },
        'environment_variables[0].value_from_secret',
        /secret 'missing' not found/,
      );
      await rejects(
        {
          ...base,
          name: 'ok',
          environment_variables: [
            { name: 'A', value: '1' },
            { name: 'A', value: '2' },
          ],
        },
        'environment_variables[1].name',
        /more than once/,
      );
      // A NUL byte cannot reach a process environment: refused at write time, the value never echoed.
      await rejects(
        { ...base, name: 'ok', environment_variables: [{ name: 'A', value: 'TOPSECRET\u0000x' }] },
        'environment_variables[0].value',
        /^(?!.*TOPSECRET).*must not contain NUL bytes/,
      );
      await rejects({ ...base, name: 'ok', volumes: [{ name: 'nope', mount_path: '/data' }] }, 'volumes[0].name', /volume 'nope' not found/);
      await rejects({ ...base, name: 'ok', volumes: [{ name: 'v', mount_path: 'relative' }] }, 'volumes[0].mount_path', /must match/);
      await rejects({ ...base, name: 'ok', min_replicas: 3, max_replicas: 2 }, 'min_replicas', /less than or equal to max_replicas/);
      await rejects({ ...base, name: 'ok', autoscaling: { target: 2 } }, 'autoscaling.metric', /required/);
      await rejects({ ...base, name: 'ok', autoscaling: { metric: 'CustomMetric' } }, 'autoscaling.custom_metric_name', /required for metric CustomMetric/);
      await rejects(
        { ...base, name: 'ok', autoscaling: { metric: 'CustomMetric', custom_metric_name: '9bad' } },
        'autoscaling.custom_metric_name',
        /must match/,
      );
      await rejects(
        { ...base, name: 'ok', autoscaling: { metric: 'QueueBacklogPerWorker', time_interval_minutes: 5 } },
        'autoscaling.time_interval_minutes',
        /does not apply to metric QueueBacklogPerWorker/,
      );
      await rejects({ ...base, name: 'ok', autoscaling: { metric: 'HTTPTotalRequests', target: 0 } }, 'autoscaling.target', /> 0/);
      // jig sends model_mounts (usually empty); Gantry cannot mount registered models.
      await rejects({ ...base, name: 'ok', model_mounts: [{ model_id: 'ml_1', mount_path: '/models' }] }, 'model_mounts', /not supported by Gantry.*volume/);
      await rejects({ ...base, name: 'ok', model_mounts: [{ mount_path: '/models' }] }, 'model_mounts[0].model_id', /required/);
      assert.equal((await t.call('GET', '/v1/deployments')).body.data.length, 0, 'nothing was stored');
      const withEmpty = await t.call('POST', '/v1/deployments', { body: { ...base, name: 'empty-mounts', model_mounts: [] } });
      assert.equal(withEmpty.status, 200, JSON.stringify(withEmpty.body));
      assert.equal('model_mounts' in (await t.store.findDeploymentById(withEmpty.body.id))!.spec, false, 'an empty model_mounts is accepted and not stored');
      assert.equal((await t.call('PATCH', '/v1/deployments/empty-mounts', { body: { model_mounts: [{ model_id: 'ml_1', mount_path: '/m' }] } })).status, 400);
      assert.equal((await t.call('PATCH', '/v1/deployments/empty-mounts', { body: { model_mounts: [], description: 'x' } })).status, 200);
      assert.equal('model_mounts' in (await t.store.findDeploymentById(withEmpty.body.id))!.spec, false, 'nor by a PATCH');
      assert.equal((await t.call('DELETE', '/v1/deployments/empty-mounts')).status, 200);
    });

    test('defaults: max_replicas follows min_replicas; each metric gets its own defaults', async () => {
      const r = await t.call('POST', '/v1/deployments', {
        body: { ...base, name: 'defaults', min_replicas: 2, autoscaling: { metric: 'HTTPAvgRequestDuration' } },
      });
      assert.equal(r.status, 200);
      assert.equal(r.body.max_replicas, 2);
      assert.equal(r.body.desired_replicas, 2);
      assert.deepEqual(r.body.autoscaling, { metric: 'HTTPAvgRequestDuration', target: 500, time_interval_minutes: 10 });
      assert.equal(r.body.status, 'Updating');
      const http = await t.call('PATCH', '/v1/deployments/defaults', { body: { autoscaling: { metric: 'HTTPTotalRequests', time_interval_minutes: 2 } } });
      assert.deepEqual(http.body.autoscaling, { metric: 'HTTPTotalRequests', target: 100, time_interval_minutes: 2 });
      const custom = await t.call('PATCH', '/v1/deployments/defaults', {
        body: { autoscaling: { metric: 'CustomMetric', custom_metric_name: 'vllm:num_requests_running' } },
      });
      assert.deepEqual(custom.body.autoscaling, { metric: 'CustomMetric', target: 500, custom_metric_name: 'vllm:num_requests_running' });
      const zero = await t.call('POST', '/v1/deployments', { body: { ...base, name: 'to-zero', min_replicas: 0 } });
      assert.equal(zero.body.status, 'ScaledToZero');
      assert.equal(zero.body.desired_replicas, 0);
    });

    test('PATCH is partial; lists replace wholesale; "" disables health checks; mounts keep their version', async () => {
      await t.call('POST', '/v1/deployments/storage/volumes', { body: { name: 'vol', type: 'readOnly', content: { type: 'files', source_prefix: 'vol/0' } } });
      const created = await t.call('POST', '/v1/deployments', {
        body: {
          ...base,
          name: 'patchy',
          cpu: 2,
          health_check_path: '/health',
          environment_variables: [
            { name: 'A', value: '1' },
            { name: 'B', value: '2' },
          ],
          volumes: [{ name: 'vol', mount_path: '/data' }],
        },
      });
      assert.equal(created.status, 200);
      await t.call('PATCH', '/v1/deployments/storage/volumes/vol', { body: { content: { type: 'files', source_prefix: 'vol/1' } } });

      const r = await t.call('PATCH', `/v1/deployments/${created.body.id}`, {
        body: { environment_variables: [{ name: 'C', value: '3' }], health_check_path: '', volumes: [{ name: 'vol', mount_path: '/data2' }] },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(
        r.body.environment_variables.filter((e: any) => e.name !== 'TOGETHER_DEPLOYMENT_REVISION_ID'),
        [{ name: 'C', value: '3' }],
      );
      assert.equal(r.body.health_check_path, '');
      assert.equal(r.body.cpu, 2);
      assert.deepEqual(r.body.volumes, [{ name: 'vol', mount_path: '/data2', version: 0 }], 'the mounted version is kept');

      const v = await t.call('GET', '/v1/deployments/storage/volumes/vol');
      assert.equal(v.body.current_version, 1);
      assert.deepEqual(v.body.mounted_by, [], 'nobody mounts the current version');
      assert.deepEqual(v.body.version_history['0'].mounted_by, [created.body.id]);

      const latest = await t.call('PATCH', '/v1/deployments/patchy', { body: { volumes: [{ name: 'vol', mount_path: '/data', version: 1 }] } });
      assert.equal(latest.body.volumes[0].version, 1);
      assert.equal((await t.call('PATCH', '/v1/deployments/patchy', { body: { volumes: [{ name: 'vol', mount_path: '/d', version: 7 }] } })).status, 400);
      assert.equal((await t.call('PATCH', '/v1/deployments/patchy', { body: { min_replicas: 5 } })).body.max_replicas, 5);
      assert.equal((await t.call('PATCH', '/v1/deployments/patchy', { body: { min_replicas: 6, max_replicas: 2 } })).status, 400);

      const del = await t.call('DELETE', '/v1/deployments/storage/volumes/vol');
      assert.equal(del.status, 409);
      assert.match(del.body.error.message, /patchy/);
    });

    test('rename keeps the id; the old name is free again and the new one is taken', async () => {
      const a = await t.call('POST', '/v1/deployments', { body: { ...base, name: 'old-name' } });
      await t.call('POST', '/v1/deployments', { body: { ...base, name: 'taken' } });
      const clash = await t.call('PATCH', '/v1/deployments/old-name', { body: { name: 'taken' } });
      assert.equal(clash.status, 409);
      assert.match(clash.body.error.message, /already exists/);
      const renamed = await t.call('PATCH', '/v1/deployments/old-name', { body: { name: 'new-name' } });
      assert.equal(renamed.body.id, a.body.id);
      assert.equal((await t.call('GET', '/v1/deployments/old-name')).status, 404);
      assert.equal((await t.call('GET', '/v1/deployments/new-name')).body.id, a.body.id);
    });

    test('concurrent partial updates of one deployment lose none of each other', async () => {
      await t.call('POST', '/v1/deployments', { body: { ...base, name: 'racy' } });
      const patches = [
        { cpu: 3 },
        { memory: 12 },
        { port: 9000 },
        { storage: 50 },
        { description: 'd' },
        { gpu_count: 2 },
        { termination_grace_period_seconds: 30 },
        { args: ['--fast'] },
      ];
      const results = await Promise.all(patches.map((body) => t.call('PATCH', '/v1/deployments/racy', { body })));
      results.forEach((r) => assert.equal(r.status, 200, JSON.stringify(r.body)));
      const final = (await t.call('GET', '/v1/deployments/racy')).body;
      for (const p of patches) for (const [k, v] of Object.entries(p)) assert.deepEqual(final[k], v, `${k} survived`);
    });

    test('secrets referenced by a deployment cannot be deleted; the 409 names the deployment', async () => {
      await t.call('POST', '/v1/deployments/secrets', { body: { name: 'db-pass', value: 'hunter2' } });
      await t.call('POST', '/v1/deployments', {
        body: { ...base, name: 'uses-secret', environment_variables: [{ name: 'PASS', value_from_secret: 'db-pass' }] },
      });
      const r = await t.call('DELETE', '/v1/deployments/secrets/db-pass');
      assert.equal(r.status, 409);
      assert.match(r.body.error.message, /uses-secret/);
      await t.call('DELETE', '/v1/deployments/uses-secret');
      assert.equal((await t.call('DELETE', '/v1/deployments/secrets/db-pass')).status, 200);
    });

    test('a mounted volume cannot be deleted, with a 409 naming the deployment; unmounted it can; an unknown one is a 404', async () => {
      const v = await t.call('POST', '/v1/deployments/storage/volumes', {
        body: { name: 'weights', type: 'readOnly', content: { type: 'files', source_prefix: 'weights/0' } },
      });
      assert.equal(v.status, 200, JSON.stringify(v.body));
      const d = await t.call('POST', '/v1/deployments', { body: { ...base, name: 'mounts-weights', volumes: [{ name: 'weights', mount_path: '/weights' }] } });
      assert.equal(d.status, 200, JSON.stringify(d.body));
      const refused = await t.call('DELETE', '/v1/deployments/storage/volumes/weights');
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error.code, 'volume_in_use');
      assert.match(refused.body.error.message, /mounts-weights/);
      await t.call('DELETE', '/v1/deployments/mounts-weights');
      assert.equal((await t.call('DELETE', '/v1/deployments/storage/volumes/weights')).status, 200);
      assert.equal((await t.call('DELETE', '/v1/deployments/storage/volumes/weights')).status, 404);
    });

    test('a secret with a NUL byte is refused at write time, naming the field and not the value', async () => {
      const r = await t.call('POST', '/v1/deployments/secrets', { body: { name: 'nul', value: 'TOPSECRET\u0000x' } });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.param, 'value');
      assert.match(r.body.error.message, /must not contain NUL bytes/);
      assert.ok(!JSON.stringify(r.body).includes('TOPSECRET'));
    });

    test('secret values are encrypted at rest and never in any response', async () => {
      const r = await t.call('POST', '/v1/deployments/secrets', { body: { name: 'plain', value: 'very-secret-value' } });
      const rows = await t.store.listSecrets((await t.store.findActiveKeyByHash((await import('../../src/commands/keys.js')).hashKey(t.adminKey)))!.project_id);
      const row = rows.find((s) => s.name === 'plain')!;
      assert.ok(row.ciphertext.startsWith('v1:'));
      assert.ok(!row.ciphertext.includes('very-secret-value'));
      assert.equal(t.ctx.secretBox.open(row.ciphertext, row.id), 'very-secret-value');
      for (const path of ['/v1/deployments/secrets', `/v1/deployments/secrets/${r.body.id}`]) {
        assert.ok(!JSON.stringify((await t.call('GET', path)).body).includes('very-secret-value'));
      }
    });

    test('without an image registry, base-path is a 404 saying how to get one', async () => {
      const r = await t.call('GET', '/v1/image-repositories/base-path');
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'registry_off');
      assert.match(r.body.error.message, /install docker-registry/);
    });

    test('HTTP-level failures: 401, 404, 413, 415, malformed JSON', async () => {
      assert.equal((await t.call('GET', '/v1/deployments', { key: null })).status, 401);
      assert.equal((await t.call('GET', '/v1/deployments', { key: 'nope' })).status, 401);
      assert.equal((await t.call('GET', '/v1/deployments', { headers: { authorization: 'Basic abc' }, key: null })).status, 401);
      const missing = await t.call('GET', '/v1/deployments/ghost');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.type, 'not_found_error');
      assert.equal((await t.call('GET', '/v1/no-such-route')).status, 404);
      const big = await t.call('POST', '/v1/deployments', { body: { ...base, name: 'big', description: 'x'.repeat(70 * 1024) } });
      assert.equal(big.status, 413);
      assert.equal(big.body.error.type, 'request_too_large');
      const text = await t.call('POST', '/v1/deployments', { raw: 'name=x', headers: { 'content-type': 'text/plain' } });
      assert.equal(text.status, 415);
      const bad = await t.call('POST', '/v1/deployments', { raw: '{"name":', headers: { 'content-type': 'application/json' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.param, 'body');
    });

    test('GET /health, /metrics and /openapi.json', async () => {
      assert.deepEqual((await t.call('GET', '/health', { key: null })).body, { status: 'ok', leader: true });
      const metrics = await t.call('GET', '/metrics', { key: null });
      assert.match(metrics.body, /gantry_http_requests_total\{method="GET",route="\/v1\/deployments\/:id",status="404"\} \d+/);
      assert.match(metrics.body, /gantry_http_request_duration_seconds_bucket/);
      const doc = (await t.call('GET', '/openapi.json', { key: null })).body;
      assert.equal(doc.openapi, '3.1.0');
      const post = doc.paths['/v1/deployments'].post;
      assert.equal(post.requestBody.content['application/json'].schema.properties.cpu.minimum, 0.1, 'the validating schema is the documented one');
      assert.ok(doc.paths['/v1/deployments/secrets/{id}'].patch);
      assert.ok(doc.paths['/v1/deployments/storage/volumes/{id}'].get);
    });
  });
}
