import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/app.js';
import { groupAlive } from '../../src/runtime/process/process-group.js';
import { apiCaller, startGantry, type GantryProcess, workerDeployment } from '../helpers/gantry-process.js';

/**
 * Deployments that really run: a spawned `gantry serve` on the process runtime, driven over
 * HTTP as a user would, with the fixture worker as the workload.
 */
describe('deployments on the process runtime', () => {
  let dir: string;
  let g: GantryProcess;
  const key = 'proc-test-key-0123456789abcdef0123456789';

  const call = apiCaller(() => g.url, key);
  const get = async (name: string) => (await call('GET', `/v1/deployments/${name}`)).body;
  const waitFor = (name: string, ok: (d: any) => boolean) => eventually(() => get(name), ok, 15000);
  /**
   * The env.json files the replicas of a deployment wrote, newest last, each with its process group
   * as Gantry recorded it while it runs (a host pid: a sandboxed replica's own pid is its namespace's).
   */
  const replicaFiles = (depId: string) => {
    const base = join(dir, 'replicas', depId);
    if (!existsSync(base)) return [];
    return readdirSync(base)
      .filter((id) => existsSync(join(base, id, 'env.json')))
      .map((id) => {
        const group = join(base, id, 'replica.pid');
        return {
          ...(JSON.parse(readFileSync(join(base, id, 'env.json'), 'utf8')) as { env: Record<string, string> }),
          group: existsSync(group) ? (JSON.parse(readFileSync(group, 'utf8')) as { pid: number }).pid : null,
        };
      });
  };
  const replicaGroups = (depId: string) => replicaFiles(depId).flatMap((f) => (f.group ? [f.group] : []));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-proc-'));
    g = await startGantry(['--data-dir', dir, '--gpus', 'h100-80gb:1'], { GANTRY_ADMIN_KEY: 'proc-test-key-0123456789abcdef0123456789' });
  });
  after(async () => {
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = (name: string, extra: object = {}) => ({
    ...workerDeployment(name),
    environment_variables: [{ name: 'WRITE_ENV_FILE', value: '1' }],
    termination_grace_period_seconds: 5,
    ...extra,
  });

  test('the process runtime needs a command', async () => {
    const r = await call('POST', '/v1/deployments', { name: 'no-cmd', image: 'i', gpu_type: 'none' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.param, 'command');
  });

  test('a deployment becomes Ready when its health check passes; the replica gets the platform env and its secrets', async () => {
    assert.equal((await call('POST', '/v1/deployments/secrets', { name: 'db-pass', value: 's3cr3t-v@lue' })).status, 200);
    const created = await call(
      'POST',
      '/v1/deployments',
      base('web', {
        environment_variables: [
          { name: 'WRITE_ENV_FILE', value: '1' },
          { name: 'READY_AFTER_MS', value: '400' },
          { name: 'DB_PASS', value_from_secret: 'db-pass' },
        ],
      }),
    );
    assert.equal(created.status, 200);
    assert.equal(created.body.status, 'Updating');
    const ready = await waitFor('web', (d) => d.status === 'Ready');
    assert.equal(ready.ready_replicas, 1);
    const [event] = Object.values(ready.replica_events) as any[];
    assert.equal(event.replica_status, 'Running');
    assert.ok(event.replica_ready_since);
    assert.equal(event.revision_id, ready.environment_variables.find((e: any) => e.name === 'TOGETHER_DEPLOYMENT_REVISION_ID').value);

    const env = replicaFiles(ready.id)[0]!.env;
    assert.equal(env!.DB_PASS, 's3cr3t-v@lue');
    assert.equal(env!.TOGETHER_DEPLOYMENT_NAME, 'web');
    assert.equal(env!.TOGETHER_DEPLOYMENT_REVISION_ID, event.revision_id);
    assert.equal(env!.TOGETHER_API_BASE_URL, g.url);
    assert.equal(env!.TERMINATION_GRACE_PERIOD_SECONDS, '5');
    assert.equal(env!.CUDA_VISIBLE_DEVICES, '');
    assert.ok(!JSON.stringify(await get('web')).includes('s3cr3t-v@lue'), 'the secret is never returned');
    assert.ok(!g.output().includes('s3cr3t-v@lue'), 'the secret is never logged');
  });

  test('a rolling update never leaves zero ready replicas, and a PATCH that runs nothing new makes no revision', async () => {
    const before = await waitFor('web', (d) => d.status === 'Ready');
    const oldRevision = before.replica_events[Object.keys(before.replica_events)[0]!].revision_id;
    const same = await call('PATCH', '/v1/deployments/web', { description: 'words only' });
    assert.equal(Object.values(same.body.replica_events as object).length, 1);
    assert.equal((await get('web')).replica_events[Object.keys(before.replica_events)[0]!]?.revision_id, oldRevision);

    // As jig does: its own TOGETHER_API_BASE_URL, and the listed revision id sent back as it came.
    const patched = await call('PATCH', '/v1/deployments/web', {
      environment_variables: [
        { name: 'WRITE_ENV_FILE', value: '1' },
        { name: 'READY_AFTER_MS', value: '600' },
        { name: 'VERSION', value: '2' },
        { name: 'TOGETHER_API_BASE_URL', value: 'https://api.example.test/v1' },
        { name: 'TOGETHER_DEPLOYMENT_REVISION_ID', value: oldRevision },
      ],
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const listed = patched.body.environment_variables.filter((e: any) => e.name === 'TOGETHER_DEPLOYMENT_REVISION_ID');
    assert.equal(listed.length, 1, 'the revision id is listed once, by the platform');
    const newRevision = listed[0].value;
    assert.notEqual(newRevision, oldRevision);
    let sawBoth = false;
    for (;;) {
      const d = await get('web');
      const events = Object.values(d.replica_events) as any[];
      assert.ok(
        events.some((e) => e.replica_ready_since),
        `some replica is ready throughout: ${JSON.stringify(events)}`,
      );
      if (events.some((e) => e.revision_id === oldRevision) && events.some((e) => e.revision_id === newRevision)) sawBoth = true;
      if (d.status === 'Ready' && events.every((e) => e.revision_id === newRevision)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(sawBoth, 'old and new replicas ran side by side');
    const env = replicaFiles(before.id)
      .map((f) => f.env)
      .find((e) => e.VERSION === '2')!;
    assert.equal(env.TOGETHER_API_BASE_URL, 'https://api.example.test/v1', "a platform variable the user sets is the user's value");
    assert.equal(env.TOGETHER_DEPLOYMENT_REVISION_ID, newRevision, 'the revision id is always the real one');
  });

  test('a new revision that cannot start leaves the old one serving, and reports why', async () => {
    await call('PATCH', '/v1/deployments/web', { environment_variables: [{ name: 'CRASH_AFTER_MS', value: '50' }] });
    const d = await waitFor('web', (d) => (Object.values(d.replica_events) as any[]).some((e) => e.replica_status_reason === 'CrashLoopBackOff'));
    const events = Object.values(d.replica_events) as any[];
    const crashing = events.find((e) => e.replica_status_reason === 'CrashLoopBackOff');
    assert.equal(crashing.replica_status, 'Waiting');
    assert.match(crashing.replica_status_message, /exited with code 3/);
    assert.ok(
      events.some((e) => e.replica_ready_since && e.revision_id !== crashing.revision_id),
      'the old revision still serves',
    );
    assert.equal(d.status, 'Updating');
    const logs = await call('GET', `/v1/deployments/web/logs?revision=${crashing.revision_id}`);
    assert.ok(
      logs.body.lines.some((l: string) => /worker listening/.test(l)),
      "the crashed replica's logs are readable",
    );
  });

  test('GPUs: a replica that cannot get its GPUs waits Unschedulable; the one that can, gets one', async () => {
    await call('POST', '/v1/deployments', base('gpu-app', { gpu_type: 'h100-80gb', gpu_count: 1, min_replicas: 2 }));
    const d = await waitFor(
      'gpu-app',
      (d) => d.ready_replicas === 1 && (Object.values(d.replica_events) as any[]).some((e) => e.replica_status_reason === 'Unschedulable'),
    );
    const waiting = (Object.values(d.replica_events) as any[]).find((e) => e.replica_status_reason === 'Unschedulable');
    assert.match(waiting.replica_status_message, /needs 1 × h100-80gb GPU; 0 of 1 free/);
    assert.equal(d.status, 'Scaling');
    assert.deepEqual(
      replicaFiles(d.id).map((f) => f.env.CUDA_VISIBLE_DEVICES),
      ['0'],
    );
    await call('DELETE', '/v1/deployments/gpu-app');
  });

  test('logs follow as NDJSON until the client leaves', async () => {
    await call('PATCH', '/v1/deployments/web', { environment_variables: [{ name: 'WRITE_ENV_FILE', value: '1' }] });
    const d = await waitFor('web', (d) => d.status === 'Ready' && Object.keys(d.replica_events).length === 1);
    const ac = new AbortController();
    const res = await fetch(`${g.url}/v1/deployments/web/logs?follow=true`, { headers: { authorization: `Bearer ${key}` }, signal: ac.signal });
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const reader = res.body!.getReader();
    const first = JSON.parse(new TextDecoder().decode((await reader.read()).value).split('\n')[0]!);
    assert.ok(Array.isArray(first.lines));
    // Make the replica print something: the fixture logs each /env request.
    const replica = replicaFiles(d.id).find((f) => f.group && groupAlive(f.group))!;
    await fetch(`http://127.0.0.1:${replica.env.PORT}/env`);
    let streamed = '';
    while (!streamed.includes('served /env')) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream stays open while the client reads');
      streamed += new TextDecoder().decode(value);
    }
    assert.deepEqual(JSON.parse(streamed.trim().split('\n').at(-1)!), { lines: ['served /env'] });
    ac.abort();
  });

  test('a replica mounts exactly the volume version it names, preloaded from storage before it starts', async () => {
    // As jig does it: create the volume at <name>/0, upload, then a new version at <name>/1.
    const upload = async (filename: string, text: string) => {
      const u = (await call('POST', '/v1/storage/upload-request', { filename })).body.upload_url;
      assert.equal((await fetch(u.url, { method: u.method, body: text })).status, 200);
    };
    const vol = await call('POST', '/v1/deployments/storage/volumes', {
      name: 'models',
      type: 'readOnly',
      content: { type: 'files', source_prefix: 'models/0' },
    });
    assert.equal(vol.status, 200);
    await upload('models/0/config.json', 'v0');
    await upload('models/0/shards/a.bin', 'A0');
    assert.equal(
      (await call('PATCH', '/v1/deployments/storage/volumes/models', { content: { type: 'files', source_prefix: 'models/1' } })).body.current_version,
      1,
    );
    await upload('models/1/config.json', 'v1');

    await call('POST', '/v1/deployments', base('mounted-0', { volumes: [{ name: 'models', mount_path: '/mnt/models', version: 0 }] }));
    await call('POST', '/v1/deployments', base('mounted-1', { volumes: [{ name: 'models', mount_path: '/mnt/models' }] }));
    for (const [name, files] of [
      ['mounted-0', { 'config.json': 'v0', 'shards/a.bin': 'A0' }],
      ['mounted-1', { 'config.json': 'v1' }],
    ] as const) {
      const ready = await waitFor(name, (d) => d.status === 'Ready');
      const [replicaId, event] = (Object.entries(ready.replica_events) as [string, any][])[0]!;
      const mounted = join(dir, 'replicas', ready.id, replicaId, 'mnt', 'models');
      assert.ok(realpathSync(mounted).startsWith(`${dir}/volumes/`), 'under the data dir');
      const seen = Object.fromEntries(
        readdirSync(mounted, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => [join(e.parentPath, e.name).slice(mounted.length + 1), readFileSync(join(e.parentPath, e.name), 'utf8')]),
      );
      assert.deepEqual(seen, files, `${name} sees its version's files only`);
      assert.equal(event.volume_preload_status, 'Completed');
      assert.ok(event.volume_preload_started_at <= event.volume_preload_completed_at);
      assert.ok(event.volume_preload_completed_at <= event.replica_ready_since, 'preloaded before the replica was ready');
    }
    for (const name of ['mounted-0', 'mounted-1']) assert.equal((await call('DELETE', `/v1/deployments/${name}`)).status, 200);
  });

  test('delete stops every replica; shutdown leaves no orphan process, and a restart recreates replicas without duplicates', async () => {
    await call('POST', '/v1/deployments', base('gone'));
    const gone = await waitFor('gone', (d) => d.status === 'Ready');
    const [goneGroup] = replicaGroups(gone.id);
    assert.ok(goneGroup && groupAlive(goneGroup));
    assert.equal((await call('DELETE', '/v1/deployments/gone')).status, 200);
    await eventually(
      async () => groupAlive(goneGroup),
      (a) => !a,
    );
    assert.equal(groupAlive(goneGroup), false);

    const web = await waitFor('web', (d) => d.status === 'Ready');
    const groups = replicaGroups(web.id).filter(groupAlive);
    assert.equal(groups.length, 1);
    assert.equal(await g.stop('SIGTERM'), 0);
    assert.deepEqual(groups.filter(groupAlive), [], 'no replica outlives gantry');

    g = await startGantry(['--data-dir', dir, '--gpus', 'h100-80gb:1'], { GANTRY_ADMIN_KEY: key });
    const again = await waitFor('web', (d) => d.status === 'Ready');
    assert.equal(Object.keys(again.replica_events).length, 1, 'one replica, not a duplicate');
    assert.equal(replicaGroups(web.id).filter(groupAlive).length, 1);
  });
});
