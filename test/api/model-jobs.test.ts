import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { hashKey } from '../../src/commands/keys.js';
import { ModelImporter } from '../../src/commands/model-import.js';
import { guardedDispatcher, outboundPolicy } from '../../src/endpoints/outbound.js';
import type { ModelJobRecord } from '../../src/store/endpoint-store.js';
import { SteppedClock } from '../helpers/clock.js';

/**
 * Model upload jobs are durable background work claimed with a lease: a job whose runner went
 * away is claimed again once its lease lapses (by any instance) or at once by the instance that
 * held it when that one restarts; a runner that lost its claim cannot write the job again; a job
 * interrupted too often fails. Both store engines, a clock the test moves. (The Hub here is a
 * closed port, so each run ends quickly in Failed: what is checked is who may run it, and when.)
 */
for (const engine of engines) {
  describe(`model upload jobs claimed with a lease on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestApp;
    let project: string;
    const clock = new SteppedClock();
    const importer = (owner: string) =>
      new ModelImporter(
        t.ctx,
        {
          hubUrl: 'http://127.0.0.1:9',
          localRoots: [],
          workDir: '/nonexistent',
          timeoutMs: 1000,
          attempts: 1,
          retryDelayMs: 0,
          dispatcher: guardedDispatcher(outboundPolicy([])),
        },
        owner,
      );
    before(async () => {
      t = await startTestApp(engine, { wire: (ctx) => (ctx.clock = clock) });
      project = (await t.store.findActiveKeyByHash(hashKey(t.adminKey)))!.project_id;
    });
    after(async () => t?.close());

    /** A job `owner` claimed (attempt `attempt`) whose lease runs two minutes from now. */
    const held = async (id: string, owner: string, attempt = 1): Promise<ModelJobRecord> => {
      const at = clock.now().toISOString();
      await t.store.endpoints.insertModel({
        id: `model-${id}`,
        project_id: project,
        name: `default/${id}`,
        model_type: 'model',
        base_model: null,
        source: 'a/b',
        description: '',
        weights_prefix: `models/${id}`,
        size_bytes: null,
        ready: false,
        created_at: at,
      });
      const job: ModelJobRecord = {
        id,
        project_id: project,
        model_id: `model-${id}`,
        status: 'Running',
        status_updates: [{ status: 'Running', message: 'Fetching', timestamp: at }],
        args: { description: '', modelName: `default/${id}`, modelSource: 'a/b' },
        created_at: at,
        updated_at: at,
        attempt,
        claimed_by: owner,
        lease_until: new Date(clock.nowMs() + 120_000).toISOString(),
        sealed_token: null,
      };
      await t.store.endpoints.insertJob(job);
      return job;
    };
    const jobOf = async (id: string) => (await t.call('GET', `/v1/jobs/${id}`)).body;

    test('a held lease keeps other instances off; once it lapses another claims the job and resumes it; the old runner is fenced off', async () => {
      const job = await held('job-1', 'instance-a');
      const b = importer('instance-b');
      await b.claimAll();
      await b.idle();
      assert.equal((await jobOf('job-1')).status_updates.length, 1, 'held by a: b leaves it alone');
      clock.step(121_000);
      await b.claimAll();
      await b.idle();
      const done = await jobOf('job-1');
      assert.equal(done.status, 'Failed', JSON.stringify(done));
      assert.match(done.status_updates[1].message, /Resuming the fetch from .* \(attempt 2\)/);
      assert.match(done.status_updates.at(-1).message, /cannot reach http:\/\/127\.0\.0\.1:9/);
      assert.equal(
        await t.store.endpoints.updateJob({ ...job, status: 'Complete' }, { owner: 'instance-a', attempt: 1 }),
        false,
        'a runner that lost its claim cannot end it',
      );
      assert.equal(await t.store.endpoints.renewJob('job-1', { owner: 'instance-a', attempt: 1 }, clock.now().toISOString(), clock.now().toISOString()), false);
    });

    test('an instance that restarts resumes its own jobs at once, without waiting for the lease', async () => {
      await held('job-2', 'instance-c');
      const other = importer('instance-d');
      await other.claimAll();
      await other.idle();
      assert.equal((await jobOf('job-2')).status_updates.length, 1, 'the lease still holds for others');
      const restarted = importer('instance-c');
      await restarted.start();
      restarted.stop();
      await restarted.idle();
      const done = await jobOf('job-2');
      assert.match(done.status_updates[1].message, /attempt 2/);
      assert.equal(done.status, 'Failed');
    });

    test('a job interrupted five times is failed instead of run again', async () => {
      await held('job-3', 'instance-e', 5);
      clock.step(121_000);
      const b = importer('instance-f');
      await b.claimAll();
      await b.idle();
      const done = await jobOf('job-3');
      assert.equal(done.status, 'Failed');
      assert.match(done.status_updates.at(-1).message, /interrupted 5 times before it ended; upload the model again/);
      assert.equal(done.status_updates.length, 2, 'failed once, without another fetch');
    });
  });
}
