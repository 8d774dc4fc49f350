import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { hashKey } from '../../src/commands/keys.js';
import { ModelImporter } from '../../src/commands/model-import.js';
import type { ModelJobRecord } from '../../src/store/endpoint-store.js';
import { SteppedClock } from '../helpers/clock.js';

/**
 * An upload job whose Gantry stopped (a crash, or another instance that went away) is failed by
 * a sweep once it has not been touched for two minutes, and only then; it ends exactly once.
 * Both store engines, a clock the test moves.
 */
for (const engine of engines) {
  describe(`lapsed model upload jobs on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestApp;
    const clock = new SteppedClock();
    let importer: ModelImporter;
    before(async () => {
      t = await startTestApp(engine, { wire: (ctx) => (ctx.clock = clock) });
      importer = new ModelImporter(t.ctx, {
        hubUrl: 'http://127.0.0.1:9',
        localRoots: [],
        workDir: '/nonexistent',
        timeoutMs: 1000,
        attempts: 1,
        retryDelayMs: 0,
      });
    });
    after(async () => t?.close());

    test('a running job untouched for two minutes is failed, once; a fresh one is left alone', async () => {
      const project = (await t.store.findActiveKeyByHash(hashKey(t.adminKey)))!.project_id;
      const at = clock.now().toISOString();
      await t.store.endpoints.insertModel({
        id: 'model-1',
        project_id: project,
        name: 'default/m',
        model_type: 'model',
        base_model: null,
        source: 'a/b',
        description: '',
        weights_prefix: 'models/job-1',
        size_bytes: null,
        ready: false,
        created_at: at,
      });
      const job: ModelJobRecord = {
        id: 'job-1',
        project_id: project,
        model_id: 'model-1',
        status: 'Running',
        status_updates: [{ status: 'Running', message: 'Fetching', timestamp: at }],
        args: { description: '', modelName: 'default/m', modelSource: 'a/b' },
        created_at: at,
        updated_at: at,
      };
      await t.store.endpoints.insertJob(job);

      clock.step(60_000);
      await t.store.endpoints.touchJob('job-1', clock.now().toISOString()); // its runner's heartbeat
      clock.step(119_000);
      await importer.sweep();
      assert.equal((await t.call('GET', '/v1/jobs/job-1')).body.status, 'Running', "touched 119 s ago: still someone's");
      clock.step(2_000);
      await importer.sweep();
      const failed = (await t.call('GET', '/v1/jobs/job-1')).body;
      assert.equal(failed.status, 'Failed');
      assert.match(failed.status_updates.at(-1).message, /stopped before it ended/);
      assert.equal(await t.store.endpoints.updateJob({ ...job, status: 'Complete' }), false, 'a runner that comes back cannot end it again');
      await importer.sweep();
      assert.equal((await t.call('GET', '/v1/jobs/job-1')).body.status_updates.length, 2, 'failed once');
    });
  });
}
