import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../helpers/engines.js';
import { openDatabase } from '../../src/store/database.js';
import { StoreConstraintError } from '../../src/store/executor.js';
import { migrate, SCHEMA_VERSION } from '../../src/store/migrations.js';
import { Store } from '../../src/store/store.js';
import type { DeploymentRecord } from '../../src/contract/records.js';
import { draftFromCreate } from '../../src/domain/deployment.js';
import { pendingJob } from '../helpers/jobs.js';

const now = '2026-01-01T00:00:00.000Z';

async function withStore(engine: (typeof engines)[number], fn: (s: Store, url: string) => Promise<void>) {
  const db = await engine.create();
  const store = new Store(await openDatabase(db.url));
  try {
    await fn(store, db.url);
  } finally {
    await store.close();
    await db.drop();
  }
}

function deployment(projectId: string, name: string): DeploymentRecord {
  const spec = { ...draftFromCreate({ name, image: 'img', gpu_type: 'none' }), volumes: [] };
  return {
    id: `dep_${name}`,
    project_id: projectId,
    name,
    spec,
    revision_id: 'r1',
    revision_hash: 'h1',
    desired_replicas: 1,
    failure: null,
    failed_revision_id: null,
    created_at: now,
    updated_at: now,
    version: 1,
  };
}

for (const engine of engines) {
  describe(`store on ${engine.name}`, { skip: engine.skip }, () => {
    test('migrations run once and again without change', async () => {
      await withStore(engine, async (store) => {
        await migrate(store.db);
        const row = await store.db.get<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations');
        assert.equal(Number(row?.v), SCHEMA_VERSION);
      });
    });

    test("the periodic passes' read: autoscaled deployments that run, have queued jobs or are active; never idle ones at zero", async () => {
      await withStore(engine, async (store) => {
        const p = await store.ensureProject({ id: 'proj_1', name: 'p', created_at: now });
        const autoscaled = (name: string, desired: number): DeploymentRecord => {
          const d = deployment(p.id, name);
          return { ...d, desired_replicas: desired, spec: { ...d.spec, min_replicas: 0, autoscaling: { metric: 'HTTPTotalRequests', target: 10 } } };
        };
        for (const d of [autoscaled('running', 2), autoscaled('idle', 0), autoscaled('queued', 0), autoscaled('active', 0), deployment(p.id, 'fixed')]) {
          await store.insertDeployment(d);
        }
        await store.jobs.insertMany([pendingJob('j1', { project_id: p.id, model: 'queued' })]);
        const names = async (active: string[] = [], autoscaledOnly = true) =>
          (await store.listBusyDeployments(active, { autoscaledOnly })).map((d) => d.name).sort();
        assert.deepEqual(await names(), ['queued', 'running']);
        assert.deepEqual(await names(['dep_active', 'dep_fixed']), ['active', 'queued', 'running']);
        assert.deepEqual(await names([], false), ['fixed', 'queued', 'running'], 'without the filter, busy deployments of any kind');
        // Autoscaling switched off (a PATCH) takes it out.
        const running = (await store.findDeploymentById('dep_running'))!;
        assert.equal(await store.updateDeployment({ ...running, spec: { ...running.spec, autoscaling: null }, version: 2 }, 1), true);
        assert.deepEqual(await names(), ['queued']);
      });
    });

    test('a stale version cannot overwrite a newer write', async () => {
      await withStore(engine, async (store) => {
        const p = await store.ensureProject({ id: 'proj_1', name: 'p', created_at: now });
        const d = deployment(p.id, 'app');
        await store.insertDeployment(d);
        assert.equal(await store.updateDeployment({ ...d, name: 'first', version: 2 }, 1), true);
        assert.equal(await store.updateDeployment({ ...d, name: 'stale', version: 2 }, 1), false);
        assert.equal((await store.findDeployment(p.id, d.id))?.name, 'first');
      });
    });

    test("a revision's failure is stored with the deployment, bumping its version only when it changes", async () => {
      await withStore(engine, async (store) => {
        const p = await store.ensureProject({ id: 'proj_1', name: 'p', created_at: now });
        const d = deployment(p.id, 'app');
        await store.insertDeployment(d);
        await store.setDeploymentFailure(d.id, 'r1', 'replica r keeps crashing');
        await store.setDeploymentFailure(d.id, 'r1', 'replica r keeps crashing');
        const failed = (await store.findDeploymentById(d.id))!;
        assert.deepEqual([failed.failure, failed.failed_revision_id, failed.version], ['replica r keeps crashing', 'r1', 2]);
        await store.setDeploymentFailure(d.id, 'r1', null);
        const mended = (await store.findDeploymentById(d.id))!;
        assert.deepEqual([mended.failure, mended.failed_revision_id, mended.version], [null, null, 3]);
      });
    });

    test('unique names per project and foreign keys surface as StoreConstraintError', async () => {
      await withStore(engine, async (store) => {
        const p = await store.ensureProject({ id: 'proj_1', name: 'p', created_at: now });
        await store.insertDeployment(deployment(p.id, 'app'));
        await assert.rejects(
          store.insertDeployment({ ...deployment(p.id, 'app'), id: 'dep_other' }),
          (e) => e instanceof StoreConstraintError && e.kind === 'unique',
        );
        const secret = {
          id: 'sec_1',
          project_id: p.id,
          name: 's',
          description: '',
          ciphertext: 'v1:x',
          created_by: 'k',
          last_updated_by: 'k',
          created_at: now,
          updated_at: now,
          version: 1,
        };
        await store.insertSecret(secret);
        await store.setDeploymentRefs('dep_app', ['sec_1'], []);
        await assert.rejects(
          store.transaction((s) => s.deleteSecret('sec_1')),
          (e) => e instanceof StoreConstraintError && e.kind === 'foreign_key',
        );
        assert.deepEqual(await store.deploymentNamesUsingSecret('sec_1'), ['app']);
      });
    });

    test('a failed transaction leaves nothing behind', async () => {
      await withStore(engine, async (store) => {
        const p = await store.ensureProject({ id: 'proj_1', name: 'p', created_at: now });
        await assert.rejects(
          store.transaction(async (s) => {
            await s.insertDeployment(deployment(p.id, 'half'));
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.equal(await store.findDeployment(p.id, 'half'), undefined);
        await store.insertDeployment(deployment(p.id, 'whole'));
        assert.equal((await store.listDeployments(p.id)).length, 1);
      });
    });

    test('data survives closing and reopening the database', async () => {
      const db = await engine.create();
      try {
        const first = new Store(await openDatabase(db.url));
        const p = await first.ensureProject({ id: 'proj_1', name: 'p', created_at: now });
        await first.insertDeployment(deployment(p.id, 'kept'));
        await first.close();
        const second = new Store(await openDatabase(db.url));
        assert.equal((await second.findDeployment(p.id, 'kept'))?.spec.image, 'img');
        await second.close();
      } finally {
        await db.drop();
      }
    });
  });
}
