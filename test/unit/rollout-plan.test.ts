import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextAvailability, planRollout } from '../../src/reconciler/plan.js';
import type { ReplicaState, RevisionSpec } from '../../src/contract/runtime.js';

const spec = (revisionId: string) => ({ revisionId }) as RevisionSpec;
const replica = (revisionId: string, ready: boolean): ReplicaState => ({
  id: Math.random().toString(36),
  deploymentId: 'd',
  revisionId,
  image: 'i',
  status: 'Running',
  readySince: ready ? new Date(0).toISOString() : null,
  address: null,
  restarts: 0,
});
const plan = (desired: number, observed: ReplicaState[], current = 'r3') =>
  planRollout(spec(current), desired, observed, 10_000, 1000).map((t) => [t.revisionId, t.replicas]);

describe('rolling update plan', () => {
  test('a fresh deployment asks for all replicas of its revision', () => {
    assert.deepEqual(plan(3, []), [['r3', 3]]);
  });

  test('old ready replicas keep serving until new ones are ready, one for one', () => {
    const old = [replica('r2', true), replica('r2', true), replica('r2', true)];
    assert.deepEqual(plan(3, old), [
      ['r3', 3],
      ['r2', 3],
    ]);
    assert.deepEqual(plan(3, [...old, replica('r3', true), replica('r3', false)]), [
      ['r3', 3],
      ['r2', 2],
    ]);
    assert.deepEqual(plan(3, [...old, replica('r3', true), replica('r3', true), replica('r3', true)]), [['r3', 3]]);
  });

  test('a new revision that never becomes ready leaves the old one serving', () => {
    const observed = [replica('r2', true), replica('r2', true), replica('r3', false), replica('r3', false)];
    assert.deepEqual(plan(2, observed), [
      ['r3', 2],
      ['r2', 2],
    ]);
  });

  test('old replicas that are not ready are dropped; the newest old revision is kept first', () => {
    const observed = [replica('r1', true), replica('r1', true), replica('r2', true), replica('r2', false)];
    assert.deepEqual(plan(2, observed), [
      ['r3', 2],
      ['r2', 1],
      ['r1', 1],
    ]);
  });

  test('a new replica replaces an old one only after it has stayed ready for minReady', () => {
    const old = [replica('r2', true)];
    const fresh = { ...replica('r3', true), readySince: new Date(9_500).toISOString() };
    const at = (now: number) => planRollout(spec('r3'), 1, [...old, fresh], now, 1000).map((t) => [t.revisionId, t.replicas]);
    assert.deepEqual(at(10_000), [
      ['r3', 1],
      ['r2', 1],
    ]);
    assert.deepEqual(at(10_500), [['r3', 1]]);
    assert.equal(nextAvailability('r3', [...old, fresh], 10_000, 1000), 500);
    assert.equal(nextAvailability('r3', [...old, fresh], 10_600, 1000), null);
  });

  test('scale to zero stops everything', () => {
    assert.deepEqual(plan(0, [replica('r2', true), replica('r3', true)]), [['r3', 0]]);
  });
});
