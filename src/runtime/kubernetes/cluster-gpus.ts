import type { CoreV1Api, V1Node, V1Pod } from '@kubernetes/client-node';
import type { GpuCapacity } from '../../contract/runtime.js';
import type { Clock } from '../../domain/clock.js';
import { memoryOfType } from '../gpus.js';
import { GPU_PRODUCT_LABEL, GPU_PRODUCTS, GPU_RESOURCE } from './k8s-objects.js';

const TYPE_OF_PRODUCT = new Map(Object.entries(GPU_PRODUCTS).map(([type, product]) => [product, type]));
const REFRESH_MS = 10_000;

/**
 * A cluster's GPUs as the hardware catalog reads them: per GPU type (from the nodes' product
 * label), the largest node's allocatable GPUs (one replica cannot span nodes), and how many one
 * replica could get now (allocatable minus what running and pending pods request, on the best
 * node). Refreshed every 10 s; the scheduler, not this view, places pods.
 */
export class ClusterGpus implements GpuCapacity {
  private nodes: { type: string; allocatable: number; free: number }[] = [];
  private timer: { cancel(): void } | null = null;

  constructor(
    private readonly core: CoreV1Api,
    private readonly clock: Clock,
    private readonly log?: (msg: string, fields?: object) => void,
  ) {}

  async start() {
    await this.refresh();
    this.timer = this.clock.setInterval(
      () => void this.refresh().catch((err: Error) => this.log?.('kubernetes: cannot read the nodes', { error: err.message })),
      REFRESH_MS,
    );
  }

  stop() {
    this.timer?.cancel();
  }

  async refresh() {
    const [nodes, pods] = await Promise.all([
      this.core.listNode({}),
      this.core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }),
    ]);
    this.nodes = gpuNodes(nodes.items, pods.items);
  }

  types() {
    const byType = new Map<string, { type: string; perReplica: number; memoryGb: number }>();
    for (const n of this.nodes) {
      const t = byType.get(n.type) ?? { type: n.type, perReplica: 0, memoryGb: memoryOfType(n.type) };
      t.perReplica = Math.max(t.perReplica, n.allocatable);
      byType.set(n.type, t);
    }
    return [...byType.values()];
  }

  free(type: string): number {
    return Math.max(0, ...this.nodes.filter((n) => n.type === type).map((n) => n.free));
  }
}

/** Each schedulable GPU node of a known product, with its allocatable and unrequested GPUs. Pure. */
export function gpuNodes(nodes: V1Node[], pods: V1Pod[]) {
  const requested = new Map<string, number>();
  for (const p of pods) {
    const node = p.spec?.nodeName;
    if (!node) continue;
    const gpus = (p.spec?.containers ?? []).reduce(
      (sum, c) => sum + Number(c.resources?.requests?.[GPU_RESOURCE] ?? c.resources?.limits?.[GPU_RESOURCE] ?? 0),
      0,
    );
    requested.set(node, (requested.get(node) ?? 0) + gpus);
  }
  return nodes.flatMap((n) => {
    const type = TYPE_OF_PRODUCT.get(n.metadata?.labels?.[GPU_PRODUCT_LABEL] ?? '');
    const allocatable = Number(n.status?.allocatable?.[GPU_RESOURCE] ?? 0);
    if (!type || allocatable === 0 || n.spec?.unschedulable) return [];
    return [{ type, allocatable, free: allocatable - (requested.get(n.metadata!.name!) ?? 0) }];
  });
}
