import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { gpuNodes } from '../../src/runtime/kubernetes/cluster-gpus.js';

const node = (name: string, product: string, gpus: number, unschedulable = false): V1Node => ({
  metadata: { name, labels: { 'nvidia.com/gpu.product': product } },
  spec: { unschedulable },
  status: { allocatable: { 'nvidia.com/gpu': String(gpus) } },
});
const pod = (nodeName: string | undefined, gpus: number): V1Pod => ({
  spec: { nodeName, containers: [{ name: 'app', resources: { limits: { 'nvidia.com/gpu': String(gpus) } } }] },
});

test("a cluster's GPU nodes: known products only, minus what scheduled pods request", () => {
  const nodes = [
    node('a', 'NVIDIA-H100-80GB-HBM3', 8),
    node('b', 'NVIDIA-B200', 4),
    node('c', 'NVIDIA-GeForce-RTX-4090', 2),
    node('d', 'NVIDIA-H100-80GB-HBM3', 8, true),
    node('cpu', '', 0),
  ];
  const pods = [pod('a', 2), pod('a', 3), pod('b', 4), pod(undefined, 8)];
  assert.deepEqual(gpuNodes(nodes, pods), [
    { type: 'h100-80gb', allocatable: 8, free: 3 },
    { type: 'b200-192gb', allocatable: 4, free: 0 },
  ]);
});
