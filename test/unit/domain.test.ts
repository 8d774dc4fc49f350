import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { normalizeAutoscaling } from '../../src/domain/autoscaling.js';
import { deriveStatus, draftFromCreate, draftFromPatch, revisionHash } from '../../src/domain/deployment.js';
import type { ReplicaState } from '../../src/contract/runtime.js';
import { SecretBox, parseSecretKey } from '../../src/domain/secret-box.js';
import { uuidv7 } from '../../src/domain/ids.js';
import type { DeploymentRecord } from '../../src/contract/records.js';

const spec = () => ({ ...draftFromCreate({ name: 'app', image: 'img:1', gpu_type: 'h100-80gb' }), volumes: [] });
const record = (desired: number, failure: string | null = null): DeploymentRecord => ({
  id: 'dep_1',
  project_id: 'p',
  name: 'app',
  spec: spec(),
  revision_id: 'rev-2',
  revision_hash: 'h',
  desired_replicas: desired,
  failure,
  failed_revision_id: failure ? 'rev-2' : null,
  created_at: '',
  updated_at: '',
  version: 1,
});
const replica = (revision: string, ready: boolean): ReplicaState => ({
  id: `r-${Math.random()}`,
  deploymentId: 'dep_1',
  revisionId: revision,
  image: 'img:1',
  status: 'Running',
  readySince: ready ? '2026-01-01T00:00:00Z' : null,
  address: null,
  restarts: 0,
});

describe('status derivation', () => {
  test('follows what is observed', () => {
    assert.equal(deriveStatus(record(1), { replicas: [] }), 'Updating');
    assert.equal(deriveStatus(record(0), { replicas: [] }), 'ScaledToZero');
    assert.equal(deriveStatus(record(2), { replicas: [replica('rev-2', true), replica('rev-2', true)] }), 'Ready');
    assert.equal(deriveStatus(record(2), { replicas: [replica('rev-2', true)] }), 'Scaling');
    assert.equal(deriveStatus(record(1), { replicas: [replica('rev-1', true), replica('rev-2', true)] }), 'Updating');
    assert.equal(deriveStatus(record(1, 'CrashLoopBackOff'), { replicas: [replica('rev-2', false)] }), 'Failed');
    const failedBefore = { ...record(1, 'CrashLoopBackOff'), failed_revision_id: 'rev-1' };
    assert.equal(deriveStatus(failedBefore, { replicas: [replica('rev-2', false)] }), 'Updating', "an earlier revision's failure is not the new one's");
  });
});

describe('autoscaling configs', () => {
  test('{} and null disable; defaults per metric; model defaults to the deployment name', () => {
    assert.equal(normalizeAutoscaling({}, 'x'), null);
    assert.equal(normalizeAutoscaling(null, 'x'), null);
    assert.deepEqual(normalizeAutoscaling({ metric: 'QueueBacklogPerWorker' }, 'x'), { metric: 'QueueBacklogPerWorker', target: 1.01, model: 'x' });
    assert.deepEqual(normalizeAutoscaling({ metric: 'QueueBacklogPerWorker', model: 'q' }, 'x')?.model, 'q');
    assert.throws(() => normalizeAutoscaling({ metric: 'HTTPTotalRequests', model: 'q' }, 'x'), /does not apply/);
  });
});

describe('revisions', () => {
  test('only what runs changes the revision hash', () => {
    const s = spec();
    const h = revisionHash('app', s);
    assert.equal(revisionHash('app', { ...s, description: 'words', min_replicas: 3, max_replicas: 5 }), h);
    assert.notEqual(revisionHash('app', { ...s, image: 'img:2' }), h);
    assert.notEqual(revisionHash('app', { ...s, environment_variables: [{ name: 'A', value: '1' }] }), h);
    assert.notEqual(revisionHash('renamed', s), h);
  });

  test('a PATCH keeps absent fields and raises max with min', () => {
    const s = spec();
    const d = draftFromPatch(s, 'app', { min_replicas: 4 });
    assert.equal(d.max_replicas, 4);
    assert.equal(d.image, 'img:1');
  });
});

describe('secret box', () => {
  test('round-trips, and a ciphertext does not open on another row or with another key', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('hunter2', 'sec_1');
    assert.equal(box.open(sealed, 'sec_1'), 'hunter2');
    assert.throws(() => box.open(sealed, 'sec_2'));
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'sec_1'));
    assert.equal(parseSecretKey('ab'.repeat(32))?.length, 32);
    assert.equal(parseSecretKey(randomBytes(32).toString('base64'))?.length, 32);
    assert.equal(parseSecretKey('short'), null);
  });
});

describe('ids', () => {
  test('UUIDv7s are version 7 and ordered by time', () => {
    const a = uuidv7(1_000);
    const b = uuidv7(2_000);
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(a < b);
  });
});
