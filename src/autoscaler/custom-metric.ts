import type { ReplicaState } from '../contract/runtime.js';

/**
 * The sum of a metric over the Prometheus text each ready replica serves at /metrics (every
 * series of that name, whatever its labels). The autoscaler divides the sum by the target, so
 * the target is per replica. Null when no replica answered.
 */
export async function scrapeCustomMetric(replicas: ReplicaState[], name: string, timeoutMs = 1000): Promise<number | null> {
  const ready = replicas.filter((r) => r.readySince && r.address);
  const values = await Promise.all(
    ready.map(async (r) => {
      try {
        const res = await fetch(`http://${r.address}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
        return res.ok ? sumSeries(await res.text(), name) : null;
      } catch {
        return null;
      }
    }),
  );
  const read = values.filter((v): v is number => v !== null);
  return read.length ? read.reduce((a, b) => a + b, 0) : null;
}

/** Sums the samples of `name` in Prometheus text format (`name{labels} value [timestamp]`). */
export function sumSeries(text: string, name: string): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(
      rest
        .replace(/^\{[^}]*\}/, '')
        .trim()
        .split(/\s+/)[0],
    );
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}
