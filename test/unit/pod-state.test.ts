import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { replicaOf } from '../../src/runtime/kubernetes/pod-state.js';

const pod = (status: V1Pod['status'], extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({
  metadata: { name: 'p-1', labels: { 'gantry.dev/deployment': 'dep_1', 'gantry.dev/revision': 'rev-1' }, annotations: { 'gantry.dev/port': '8000' }, ...extra },
  spec: { containers: [{ name: 'app', image: 'img:1' }] },
  status,
});

test('pod states map to replica events as Together reports them', () => {
  const unschedulable = replicaOf(
    pod({
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.' }],
    }),
  );
  assert.deepEqual(
    [unschedulable.status, unschedulable.reason, unschedulable.message],
    ['Waiting', 'Unschedulable', '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.'],
  );

  const pull = replicaOf(
    pod({
      phase: 'Pending',
      containerStatuses: [
        {
          name: 'app',
          image: 'img:1',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } },
        },
      ],
    }),
  );
  assert.deepEqual([pull.status, pull.reason], ['Waiting', 'ErrImagePull']);

  const crashing = replicaOf(
    pod({
      phase: 'Running',
      containerStatuses: [
        {
          name: 'app',
          image: 'img:1',
          imageID: '',
          ready: false,
          restartCount: 4,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
          lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
        },
      ],
    }),
  );
  assert.deepEqual([crashing.status, crashing.reason, crashing.restarts], ['Waiting', 'CrashLoopBackOff', 4]);
  assert.match(crashing.message!, /last exit: OOMKilled \(code 137\)/);

  const ready = replicaOf(
    pod({
      phase: 'Running',
      podIP: '10.1.2.3',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date('2026-12-01T10:00:00Z') }],
      containerStatuses: [{ name: 'app', image: 'img:1', imageID: '', ready: true, restartCount: 0, state: { running: {} } }],
    }),
  );
  assert.deepEqual([ready.status, ready.readySince, ready.address], ['Running', '2026-12-01T10:00:00.000Z', '10.1.2.3:8000']);

  const notReady = replicaOf(
    pod({
      phase: 'Running',
      podIP: '10.1.2.3',
      containerStatuses: [{ name: 'app', image: 'img:1', imageID: '', ready: false, restartCount: 0, state: { running: {} } }],
    }),
  );
  assert.deepEqual([notReady.status, notReady.readySince, notReady.reason], ['Running', null, 'NotReady']);

  const leaving = replicaOf(pod({ phase: 'Running', podIP: '10.1.2.3' }, { deletionTimestamp: new Date() }));
  assert.deepEqual([leaving.status, leaving.address], ['Terminated', null]);
});
