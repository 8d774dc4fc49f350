import type { SimRequest } from './simulate.js';

/** How long a replica works on a request, from its token counts (a model server's prefill and decode rates). */
export interface ServiceModel {
  msPerContextToken: number;
  msPerGeneratedToken: number;
}

/**
 * Reads a request trace in the Azure LLM inference format (`TIMESTAMP,ContextTokens,
 * GeneratedTokens`, as in Azure/AzurePublicDataset): arrivals from the first one, each request's
 * work from its tokens. `compress` divides both (20: an hour in three minutes, as busy).
 */
export function parseAzureTrace(csv: string, model: ServiceModel, compress = 1): SimRequest[] {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim());
  const header = lines
    .shift()
    ?.split(',')
    .map((h) => h.trim());
  const at = header?.indexOf('TIMESTAMP') ?? -1;
  const context = header?.indexOf('ContextTokens') ?? -1;
  const generated = header?.indexOf('GeneratedTokens') ?? -1;
  if (at < 0 || context < 0 || generated < 0) throw new Error('not an Azure LLM trace: the first line must name TIMESTAMP, ContextTokens and GeneratedTokens');
  const rows = lines.map((line, i) => {
    const f = line.split(',');
    // "2023-11-16 18:17:03.9799600": seven decimals, read as milliseconds.
    const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?$/.exec(f[at]!.trim());
    const c = Number(f[context]);
    const g = Number(f[generated]);
    if (!m || !Number.isFinite(c) || !Number.isFinite(g)) throw new Error(`line ${i + 2} of the trace is not TIMESTAMP,ContextTokens,GeneratedTokens: ${line}`);
    const ms = Date.parse(`${m[1]}T${m[2]}Z`) + Number(`0.${m[3] ?? '0'}`) * 1000;
    return { ms, serviceMs: c * model.msPerContextToken + g * model.msPerGeneratedToken };
  });
  rows.sort((a, b) => a.ms - b.ms);
  const start = rows[0]?.ms ?? 0;
  return rows.map((r) => ({ atMs: (r.ms - start) / compress, serviceMs: r.serviceMs / compress }));
}

/** A point of `GET /v1/deployments/{id}/metrics`, the fields a replay needs. */
interface HistoryPoint {
  time: string;
  requests: number;
  p50_ms: number | null;
}

/**
 * Reads Gantry's own request history, the body of `GET /v1/deployments/{id}/metrics` (10-second
 * points, a day at most): each point's requests arrive evenly over its interval, each worked
 * on for the interval's median latency (what the gateway measured, so it includes any wait the
 * deployment had then: a replay of a busy interval is pessimistic). `compress` as above.
 */
export function parseGantryHistory(text: string, compress = 1): SimRequest[] {
  let body: { interval_seconds?: unknown; data?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error('not JSON');
  }
  const intervalMs = Number(body.interval_seconds) * 1000;
  if (!Array.isArray(body.data) || !(intervalMs > 0)) throw new Error('not a metrics history: expected the body of GET /v1/deployments/{id}/metrics');
  const points = (body.data as HistoryPoint[]).map((p, i) => {
    const at = Date.parse(p.time);
    if (!Number.isFinite(at) || !Number.isInteger(p.requests) || p.requests < 0) throw new Error(`point ${i} of the history has no time or request count`);
    return { at, requests: p.requests, serviceMs: p.p50_ms ?? 0 };
  });
  points.sort((a, b) => a.at - b.at);
  const start = points[0]?.at ?? 0;
  return points.flatMap((p) =>
    Array.from({ length: p.requests }, (_, k) => ({
      atMs: (p.at - start + (k * intervalMs) / p.requests) / compress,
      serviceMs: p.serviceMs / compress,
    })),
  );
}
