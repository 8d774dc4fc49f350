import { get, q } from '../../api.js';
import type { MetricPoint } from '../../types.js';

export interface History {
  points: MetricPoint[];
  /** Seconds since the epoch, one per point. */
  times: number[];
  intervalSeconds: number;
  /** The span asked for, in seconds since the epoch. */
  range: [number, number];
}

/** The deployment's metrics history (GET /v1/deployments/{id}/metrics), as chart columns. */
export async function loadHistory(id: string, minutes = 60): Promise<History> {
  const res = await get<{ interval_seconds: number; data: MetricPoint[] }>(`/deployments/${encodeURIComponent(id)}/metrics${q({ minutes })}`);
  const now = Date.now() / 1000;
  return { points: res.data, times: res.data.map((p) => Date.parse(p.time) / 1000), intervalSeconds: res.interval_seconds, range: [now - minutes * 60, now] };
}

/** Metrics are kept every 10 s: a refresh every 5 s shows each new point soon enough. */
export const HISTORY_REFRESH_MS = 5000;
