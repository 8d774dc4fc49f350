import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../helpers/engines.js';
import { eventually, startTestApp, type TestApp } from '../helpers/app.js';

for (const engine of engines) {
  describe(`project isolation on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestApp;
    let a: string;
    let b: string;
    const ids: Record<string, string> = {};

    before(async () => {
      t = await startTestApp(engine);
      a = (await t.keyFor('alpha')).key;
      b = (await t.keyFor('beta')).key;
      ids.secret = (await t.call('POST', '/v1/deployments/secrets', { key: a, body: { name: 'shh', value: 'alpha-only' } })).body.id;
      ids.volume = (
        await t.call('POST', '/v1/deployments/storage/volumes', {
          key: a,
          body: { name: 'vol', type: 'readOnly', content: { type: 'files', source_prefix: 'vol/0' } },
        })
      ).body.id;
      ids.deployment = (await t.call('POST', '/v1/deployments', { key: a, body: { name: 'app', image: 'img:1', gpu_type: 'h100-80gb' } })).body.id;
    });
    after(async () => t?.close());

    test("another project's key sees empty lists and 404 for every id and name", async () => {
      for (const path of ['/v1/deployments', '/v1/deployments/secrets', '/v1/deployments/storage/volumes']) {
        assert.deepEqual((await t.call('GET', path, { key: b })).body, { object: 'list', data: [] });
      }
      const targets = [
        ['/v1/deployments/', ids.deployment!, 'app'],
        ['/v1/deployments/secrets/', ids.secret!, 'shh'],
        ['/v1/deployments/storage/volumes/', ids.volume!, 'vol'],
      ] as const;
      for (const [prefix, id, name] of targets) {
        for (const ref of [id, name]) {
          for (const method of ['GET', 'PATCH', 'DELETE']) {
            const r = await t.call(method, prefix + ref, { key: b, body: method === 'PATCH' ? {} : undefined });
            assert.equal(r.status, 404, `${method} ${prefix}${ref}`);
            assert.ok(!JSON.stringify(r.body).includes(id) || ref === id, 'the error does not reveal the id');
          }
        }
      }
    });

    test("another project's key gets 404 from the console's routes of alpha's deployment", async () => {
      for (const ref of [ids.deployment!, 'app']) {
        assert.equal((await t.call('GET', `/v1/deployments/${ref}/metrics`, { key: b })).status, 404);
        assert.equal((await t.call('POST', `/v1/deployments/${ref}/restart`, { key: b })).status, 404);
      }
      assert.equal((await t.call('GET', '/v1/queue/jobs?model=app', { key: b })).status, 404);
    });

    test("another project can neither refer to nor be blocked by alpha's resources", async () => {
      const ref = await t.call('POST', '/v1/deployments', {
        key: b,
        body: { name: 'x', image: 'i', gpu_type: 'h100-80gb', environment_variables: [{ name: 'S', value_from_secret: ids.secret! }] },
      });
      assert.equal(ref.status, 400);
      const mount = await t.call('POST', '/v1/deployments', {
        key: b,
        body: { name: 'x', image: 'i', gpu_type: 'h100-80gb', volumes: [{ name: 'vol', mount_path: '/v' }] },
      });
      assert.equal(mount.status, 400);
      const same = await t.call('POST', '/v1/deployments', { key: b, body: { name: 'app', image: 'img:2', gpu_type: 'h100-80gb' } });
      assert.equal(same.status, 200, 'names are unique per project');
      assert.notEqual(same.body.id, ids.deployment);
      assert.equal((await t.call('GET', '/v1/deployments/app', { key: a })).body.image, 'img:1');
    });

    test('a revoked key is refused within the key cache time', async () => {
      const k = await t.keyFor('alpha');
      assert.equal((await t.call('GET', '/v1/deployments', { key: k.key })).status, 200);
      assert.ok(await t.store.revokeApiKey(k.id, new Date().toISOString()));
      const r = await eventually(
        () => t.call('GET', '/v1/deployments', { key: k.key }),
        (r) => r.status === 401,
      );
      assert.equal(r.status, 401);
      assert.equal(r.body.error.type, 'authentication_error');
      assert.equal((await t.call('GET', '/v1/deployments', { key: a })).status, 200, 'other keys of the project still work');
    });
  });
}
