import { errors } from '../contract/errors.js';
import type { UsageQueryParams, UsageReportView } from '../contract/schemas/usage.js';
import type { UsageBucketLine, UsageLine } from '../store/usage-store.js';
import type { CommandContext } from './context.js';
import type { Caller } from '../contract/ports.js';

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

function parseTime(field: string, text: string): Date {
  const at = new Date(text);
  if (!ISO_TIME.test(text) || Number.isNaN(at.getTime())) {
    throw errors.invalid(field, `${field} must be an ISO 8601 date (2026-11-01) or date-time with a zone (2026-11-01T12:00:00Z), got ${JSON.stringify(text)}`);
  }
  return at;
}

/** Cents summed from per-minute prices carry float dust (5.6 × 3 = 16.799999…). */
const cents = (n: number) => Math.round(n * 10_000) / 10_000;

interface Item {
  id: string;
  name: string;
  deleted: boolean;
  replica_minutes: number;
  cost_cents: number;
  hardware: { hardware: string; replica_minutes: number; cost_cents: number }[];
}

/**
 * What the caller's project used in [start_time, end_time): replica-minutes and their cost in
 * total, per endpoint and per container deployment, each split by hardware. Deleted ones stay
 * on the report under the name they had.
 */
export async function usageReport(ctx: CommandContext, caller: Caller, q: UsageQueryParams): Promise<UsageReportView> {
  const end = q.end_time === undefined ? ctx.clock.now() : parseTime('end_time', q.end_time);
  const start = q.start_time === undefined ? new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), 1)) : parseTime('start_time', q.start_time);
  if (start.getTime() >= end.getTime()) {
    throw errors.invalid('start_time', `start_time (${start.toISOString()}) must be before end_time (${end.toISOString()})`);
  }
  const [lines, buckets, deployments, endpoints] = await Promise.all([
    ctx.store.usage.lines(caller.projectId, start.toISOString(), end.toISOString()),
    q.bucket ? ctx.store.usage.buckets(caller.projectId, start.toISOString(), end.toISOString(), q.bucket === 'day' ? 10 : 13) : undefined,
    ctx.store.listDeployments(caller.projectId),
    ctx.store.endpoints.list(caller.projectId),
  ]);
  const currentName = new Map<string, string>([...deployments.map((d) => [d.id, d.name] as const), ...endpoints.map((e) => [e.id, e.name] as const)]);

  const byId = new Map<string, Item & { endpoint: boolean }>();
  for (const line of lines) {
    const endpoint = line.endpoint_id !== null;
    const id = line.endpoint_id ?? line.deployment_id;
    const item = byId.get(id) ?? {
      id,
      name: nameOf(line, currentName),
      deleted: !currentName.has(id),
      endpoint,
      replica_minutes: 0,
      cost_cents: 0,
      hardware: [],
    };
    item.replica_minutes += line.replica_minutes;
    item.cost_cents += line.cost_cents;
    item.hardware.push({ hardware: line.hardware, replica_minutes: line.replica_minutes, cost_cents: cents(line.cost_cents) });
    byId.set(id, item);
  }
  const items = [...byId.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const view = ({ endpoint: _, ...item }: Item & { endpoint: boolean }) => ({ ...item, cost_cents: cents(item.cost_cents) });
  return {
    object: 'usage',
    project: caller.projectName,
    start_time: start.toISOString(),
    end_time: end.toISOString(),
    currency: 'USD',
    replica_minutes: lines.reduce((n, l) => n + l.replica_minutes, 0),
    cost_cents: cents(lines.reduce((n, l) => n + l.cost_cents, 0)),
    endpoints: items.filter((i) => i.endpoint).map((i) => ({ object: 'usage.endpoint' as const, ...view(i) })),
    deployments: items.filter((i) => !i.endpoint).map((i) => ({ object: 'usage.deployment' as const, ...view(i) })),
    ...(buckets ? { series: series(buckets) } : {}),
  };
}

function nameOf(line: UsageLine, currentName: Map<string, string>): string {
  return line.endpoint_id !== null
    ? (currentName.get(line.endpoint_id) ?? line.endpoint_name ?? line.deployment_name)
    : (currentName.get(line.deployment_id) ?? line.deployment_name);
}

/** Bucket lines grouped into one entry per bucket, named by its start time. */
function series(lines: readonly UsageBucketLine[]): NonNullable<UsageReportView['series']> {
  const out: NonNullable<UsageReportView['series']> = [];
  for (const l of lines) {
    const start_time = l.bucket.length === 10 ? `${l.bucket}T00:00:00.000Z` : `${l.bucket}:00:00.000Z`;
    let b = out.at(-1);
    if (b?.start_time !== start_time) out.push((b = { start_time, replica_minutes: 0, cost_cents: 0, items: [] }));
    b.replica_minutes += l.replica_minutes;
    b.cost_cents = cents(b.cost_cents + l.cost_cents);
    b.items.push({ id: l.id, replica_minutes: l.replica_minutes, cost_cents: cents(l.cost_cents) });
  }
  return out;
}
