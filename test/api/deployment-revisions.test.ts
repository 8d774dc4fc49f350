import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { assertMatchesContract } from '../helpers/contract.js';

/**
 * A deployment's revision history and rollback (Together's `list_revisions`,
 * `retrieve_revision` and `rollback`): each change that makes a new revision is an event,
 * numbered; a revision's configuration is kept; a rollback makes an old revision active again
 * under its own id.
 */
for (const engine of engines) {
  describe(`deployment revisions on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestApp;
    before(async () => (t = await startTestApp(engine)));
    after(async () => t?.close());
    const revisionOf = (d: { environment_variables: { name: string; value?: string }[] }) =>
      d.environment_variables.find((v) => v.name === 'TOGETHER_DEPLOYMENT_REVISION_ID')!.value!;

    test('create and each change that makes a new revision are events, newest first; a description alone is none', async () => {
      const created = await t.call('POST', '/v1/deployments', { body: { name: 'rev', image: 'img:1', gpu_type: 'h100-80gb' } });
      assert.equal(created.status, 200);
      await t.call('PATCH', '/v1/deployments/rev', { body: { description: 'words only' } });
      await t.call('PATCH', '/v1/deployments/rev', { body: { image: 'img:2' } });
      const third = await t.call('PATCH', '/v1/deployments/rev', { body: { image: 'img:3', cpu: 2 } });
      const list = await t.call('GET', '/v1/deployments/rev/revisions');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.data.map((e: any) => [e.event_number, e.revision_number, e.action, e.image]),
        [
          [3, 3, 'update', 'img:3'],
          [2, 2, 'update', 'img:2'],
          [1, 1, 'create', 'img:1'],
        ],
      );
      assert.equal(list.body.data[0].revision_id, revisionOf(third.body));
      assert.equal(list.body.data[2].revision_id, revisionOf(created.body));
      assert.ok(list.body.data.every((e: any) => e.object === 'revision_event' && !Number.isNaN(Date.parse(e.activated_at))));
      // Paging: `limit`, and `before` an event number.
      assert.deepEqual(
        (await t.call('GET', '/v1/deployments/rev/revisions?limit=1')).body.data.map((e: any) => e.event_number),
        [3],
      );
      assert.deepEqual(
        (await t.call('GET', '/v1/deployments/rev/revisions?before=3&limit=10')).body.data.map((e: any) => e.event_number),
        [2, 1],
      );
      const bad = await t.call('GET', '/v1/deployments/rev/revisions?limit=101');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.param, 'limit');
    });

    test("a revision's configuration, by number or by id; an unknown one is a 404", async () => {
      const byNumber = await t.call('GET', '/v1/deployments/rev/revisions/1');
      assert.equal(byNumber.status, 200);
      assert.equal(byNumber.body.object, 'revision');
      assert.equal(byNumber.body.image, 'img:1');
      assert.equal(byNumber.body.cpu, 1);
      assert.equal(byNumber.body.revision_number, 1);
      const byId = await t.call('GET', `/v1/deployments/rev/revisions/${byNumber.body.revision_id}`);
      assert.deepEqual(byId.body, byNumber.body);
      const third = await t.call('GET', '/v1/deployments/rev/revisions/3');
      assert.equal(third.body.cpu, 2);
      const unknown = await t.call('GET', '/v1/deployments/rev/revisions/9');
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.error.message, /Revision '9' not found/);
    });

    test('rollback makes an old revision active again, under its own id, and records it', async () => {
      const first = (await t.call('GET', '/v1/deployments/rev/revisions/1')).body;
      const rolled = await t.call('POST', '/v1/deployments/rev/rollback', { body: { revision_identifier: '1' } });
      assert.equal(rolled.status, 200, JSON.stringify(rolled.body));
      assertMatchesContract('/deployments/{id}', 'get', rolled.body);
      assert.equal(rolled.body.image, 'img:1');
      assert.equal(rolled.body.cpu, 1);
      assert.equal(revisionOf(rolled.body), first.revision_id);
      const latest = (await t.call('GET', '/v1/deployments/rev/revisions?limit=1')).body.data[0];
      assert.deepEqual([latest.event_number, latest.revision_number, latest.action], [4, 1, 'rollback']);
      // A change after the rollback is a new revision, numbered after the last.
      await t.call('PATCH', '/v1/deployments/rev', { body: { image: 'img:4' } });
      const after = (await t.call('GET', '/v1/deployments/rev/revisions?limit=1')).body.data[0];
      assert.deepEqual([after.event_number, after.revision_number, after.action], [5, 4, 'update']);

      const unknown = await t.call('POST', '/v1/deployments/rev/rollback', { body: { revision_identifier: 'nope' } });
      assert.equal(unknown.status, 404);
      const missing = await t.call('POST', '/v1/deployments/rev/rollback', { body: {} });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.error.param, 'revision_identifier');
      assert.equal((await t.call('GET', '/v1/deployments/nope/revisions')).status, 404);
    });

    test('a rollback to a revision whose secret is gone is a 400 naming the variable, and changes nothing', async () => {
      assert.equal((await t.call('POST', '/v1/deployments/secrets', { body: { name: 'tok', value: 'v' } })).status, 200);
      await t.call('POST', '/v1/deployments', {
        body: { name: 'sec', image: 'img:1', gpu_type: 'h100-80gb', environment_variables: [{ name: 'TOKEN', value_from_secret: 'tok' }] },
      });
      await t.call('PATCH', '/v1/deployments/sec', { body: { environment_variables: [] } });
      assert.equal((await t.call('DELETE', '/v1/deployments/secrets/tok')).status, 200);
      const r = await t.call('POST', '/v1/deployments/sec/rollback', { body: { revision_identifier: '1' } });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.param, 'environment_variables[0].value_from_secret');
      assert.deepEqual(
        (await t.call('GET', '/v1/deployments/sec')).body.environment_variables.map((v: any) => v.name),
        ['TOGETHER_DEPLOYMENT_REVISION_ID'],
      );
      // Deleting the deployment deletes its history.
      assert.equal((await t.call('DELETE', '/v1/deployments/sec')).status, 200);
    });
  });
}
