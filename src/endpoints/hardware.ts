import type { GpuCapacity } from '../runtime/gpus.js';

/** One hardware configuration an endpoint can run on: `count` GPUs of one type on one machine. */
export interface HardwareConfig {
  /** `<count>x_nvidia_<type>_<memory>_<link>`, e.g. 2x_nvidia_h100_80gb_sxm. */
  id: string;
  gpuType: string;
  gpuCount: number;
  gpuMemoryGb: number;
  link: string;
  centsPerMinute: number;
}

export type Availability = 'available' | 'insufficient' | 'unavailable';

/** Cents per GPU per minute when the config names no price: Together's public list prices, rounded. */
export const DEFAULT_GPU_PRICES: Record<string, number> = {
  'h100-80gb': 5.6,
  'h100-40gb-mig': 2.8,
  'h200-140gb': 7.0,
  'b200-192gb': 9.9,
  'a100-80gb': 4.3,
};
const FALLBACK_PRICE = 3;

/** Data-centre GPUs come as SXM boards; the rest as PCIe cards. */
const linkOf = (type: string) => (/^(h100|h200|b200|a100)-/.test(type) ? 'sxm' : 'pcie');

/**
 * The hardware catalog, built from the GPUs the runtime knows (detected or declared): for each
 * GPU type, configurations of 1, 2, 4 and 8 GPUs (and all of them) up to how many there are.
 * Availability is read from the inventory at the moment of asking.
 */
export class HardwareCatalog {
  constructor(
    private readonly gpus: GpuCapacity,
    private readonly prices: Record<string, number> = {},
  ) {}

  configs(): HardwareConfig[] {
    const out: HardwareConfig[] = [];
    for (const { type, perReplica: count, memoryGb } of this.gpus.types().sort((a, b) => a.type.localeCompare(b.type))) {
      const counts = new Set([1, 2, 4, 8].filter((n) => n <= count).concat(count));
      for (const n of [...counts].sort((a, b) => a - b)) {
        out.push({ ...this.priced(type, n), gpuType: type, gpuCount: n, gpuMemoryGb: memoryGb, link: linkOf(type) });
      }
    }
    return out;
  }

  /**
   * The id and price of `count` GPUs of `type`, whether or not this machine has them: what a
   * replica asking for them is metered at. A replica without GPUs runs on `cpu`, free.
   */
  priced(type: string, count: number): { id: string; centsPerMinute: number } {
    if (count === 0 || type === 'none') return { id: 'cpu', centsPerMinute: 0 };
    return {
      id: `${count}x_nvidia_${type.replace(/-/g, '_')}_${linkOf(type)}`,
      centsPerMinute: round2(count * (this.prices[type] ?? DEFAULT_GPU_PRICES[type] ?? FALLBACK_PRICE)),
    };
  }

  find(id: string): HardwareConfig | undefined {
    return this.configs().find((c) => c.id === id);
  }

  /** available: enough GPUs free now; insufficient: some but too few; unavailable: none free. */
  availability(c: HardwareConfig): Availability {
    const free = this.gpus.free(c.gpuType);
    return free >= c.gpuCount ? 'available' : free > 0 ? 'insufficient' : 'unavailable';
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;
