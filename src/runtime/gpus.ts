import { execFileSync } from 'node:child_process';
import { GPU_TYPES } from '../contract/schemas/deployment.js';
import type { GpuCapacity } from '../contract/runtime.js';

export type { GpuCapacity };

/** One GPU of this machine, by index as CUDA numbers them. */
export interface Gpu {
  index: number;
  /** Together's name for the model, e.g. "h100-80gb". */
  type: string;
  memoryGb: number;
}

/** A GPU type's memory from its name (h100-80gb: 80). */
export const memoryOfType = (type: string) => Number(/-(\d+)gb/.exec(type)?.[1] ?? 0);

/**
 * The machine's GPUs and which replica holds each. Replicas get whole GPUs of the type they
 * ask for, or none: a replica never starts on the wrong hardware.
 */
export class GpuInventory implements GpuCapacity {
  private readonly holders = new Map<number, string>();

  constructor(readonly gpus: readonly Gpu[]) {}

  types() {
    const byType = new Map<string, { type: string; perReplica: number; memoryGb: number }>();
    for (const g of this.gpus) {
      const t = byType.get(g.type) ?? { type: g.type, perReplica: 0, memoryGb: g.memoryGb };
      t.perReplica++;
      byType.set(g.type, t);
    }
    return [...byType.values()];
  }

  /**
   * Takes `count` free GPUs of `type` for `holder` (the `prefer`red ones first: those an adopted
   * container already uses), or answers why it cannot. A holder asking again keeps what it has.
   */
  allocate(holder: string, type: string, count: number, prefer: number[] = []): { indices: number[] } | { missing: string } {
    if (count === 0) return { indices: [] };
    const held = [...this.holders].filter(([, h]) => h === holder).map(([i]) => i);
    if (held.length === count) return { indices: held };
    const ofType = this.gpus.filter((g) => g.type === type);
    const free = ofType.filter((g) => !this.holders.has(g.index));
    if (free.length < count) {
      return { missing: `needs ${count} × ${type} GPU; ${free.length} of ${ofType.length} free on this machine` };
    }
    const ordered = [...free.filter((g) => prefer.includes(g.index)), ...free.filter((g) => !prefer.includes(g.index))];
    const taken = ordered.slice(0, count).map((g) => g.index);
    for (const i of taken) this.holders.set(i, holder);
    return { indices: taken };
  }

  release(holder: string) {
    for (const [i, h] of this.holders) if (h === holder) this.holders.delete(i);
  }

  free(type: string): number {
    return this.gpus.filter((g) => g.type === type && !this.holders.has(g.index)).length;
  }
}

/** GPU types a deployment can ask for, so the only ones worth declaring. */
const DECLARABLE: readonly string[] = GPU_TYPES.filter((t) => t !== 'none');

/** `--gpus h100-80gb:2,b200-192gb:1`: declared GPUs for development machines without them; a type no deployment can ask for is refused. */
export function parseGpuDeclaration(text: string): Gpu[] {
  const gpus: Gpu[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^([a-z0-9-]+):(\d+)$/.exec(part);
    if (!m) throw new Error(`'${part}' is not TYPE:COUNT (for example h100-80gb:2)`);
    if (!DECLARABLE.includes(m[1]!)) throw new Error(`'${m[1]}' is not a GPU type a deployment can ask for (one of ${DECLARABLE.join(', ')})`);
    const memory = memoryOfType(m[1]!);
    for (let i = 0; i < Number(m[2]); i++) gpus.push({ index: gpus.length, type: m[1]!, memoryGb: memory });
  }
  return gpus;
}

/** Maps an nvidia-smi product name and memory to Together's GPU type names. */
export function gpuTypeOf(name: string, memoryMiB: number): string {
  const gb = Math.round(memoryMiB / 1024);
  const model = /\b(H100|H200|B200|A100|L40S|L4|A10G?)\b/i.exec(name)?.[1]?.toLowerCase() ?? name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  if (model === 'h100' && /MIG/i.test(name)) return 'h100-40gb-mig';
  const rounded = [40, 80, 140, 192].find((n) => Math.abs(n - gb) <= 8) ?? gb;
  return `${model}-${rounded}gb`;
}

/** The machine's NVIDIA GPUs as nvidia-smi lists them; none where nvidia-smi is missing. */
export function detectGpus(): Gpu[] {
  let out: string;
  try {
    out = execFileSync('nvidia-smi', ['--query-gpu=index,name,memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 5000 });
  } catch {
    return [];
  }
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [index, name, mem] = line.split(',').map((s) => s.trim());
      const memoryMiB = Number(mem);
      return { index: Number(index), type: gpuTypeOf(name ?? '', memoryMiB), memoryGb: Math.round(memoryMiB / 1024) };
    });
}
