import type { CreateDeploymentBody, DeploymentMetricsView, DeploymentView, UpdateDeploymentBody } from '../contract/schemas/deployment.js';
import { errors } from '../contract/errors.js';
import { checkDraft, clampDesired, draftFromCreate, draftFromPatch, renderDeployment, renderRevision, revisionHash } from '../domain/deployment.js';
import type { DeploymentRecord, DeploymentSpec } from '../contract/records.js';
import type { Store } from '../store/store.js';
import { retryOnConflict, STALE, type CommandContext, withConstraints, type ConstraintMeaning } from './context.js';
import { createWorkerKey } from './keys.js';
import type { Caller, SpecDraft } from '../contract/ports.js';
import { INTERVAL_MS } from '../metrics/history.js';

const KIND = 'Deployment';

export function view(ctx: CommandContext, d: DeploymentRecord): DeploymentView {
  return renderDeployment(d, ctx.runtime.observe(d.id));
}

/**
 * Resolves the secrets and volumes a draft refers to, inside the writing transaction, and
 * fixes each mount's version (the volume's current one when not given).
 */
async function resolveRefs(store: Store, projectId: string, draft: SpecDraft) {
  const secretIds: string[] = [];
  for (const [i, v] of draft.environment_variables.entries()) {
    if (v.value_from_secret === undefined) continue;
    const secret = await store.findSecret(projectId, v.value_from_secret);
    if (!secret) {
      throw errors.invalid(
        `environment_variables[${i}].value_from_secret`,
        `environment_variables[${i}].value_from_secret: secret '${v.value_from_secret}' not found`,
      );
    }
    secretIds.push(secret.id);
  }
  const volumeRefs: { volume_id: string; version: number }[] = [];
  const volumes: DeploymentSpec['volumes'] = [];
  for (const [i, m] of draft.volumes.entries()) {
    const volume = await store.findVolume(projectId, m.name);
    if (!volume) throw errors.invalid(`volumes[${i}].name`, `volumes[${i}].name: volume '${m.name}' not found`);
    const version = m.version ?? volume.current_version;
    if (version > volume.current_version) {
      throw errors.invalid(
        `volumes[${i}].version`,
        `volumes[${i}].version: volume '${m.name}' has no version ${version} (current is ${volume.current_version})`,
      );
    }
    volumeRefs.push({ volume_id: volume.id, version });
    volumes.push({ name: m.name, mount_path: m.mount_path, version });
  }
  return { spec: { ...draft, volumes } as DeploymentSpec, secretIds, volumeRefs };
}

/** A deployment's name is unique in its project; its secrets and volumes are references. */
const constraints = (name: string): ConstraintMeaning => ({
  unique: () => errors.alreadyExists(KIND, name),
  foreignKey: () => errors.invalid(null, 'a secret or volume this deployment refers to was deleted while it was being saved; try again'),
});

/**
 * `alsoWrite` runs in the same transaction, for a resource made together with its deployment
 * (an endpoint and its engine): both are stored or neither.
 */
export async function createDeployment(
  ctx: CommandContext,
  caller: Caller,
  body: CreateDeploymentBody,
  alsoWrite?: (s: Store, record: DeploymentRecord) => Promise<void>,
) {
  const draft = draftFromCreate(body);
  checkDraft(draft);
  ctx.runtime.checkRunnable(draft);
  const now = ctx.clock.now().toISOString();
  const record = await withConstraints(
    () =>
      ctx.store.transaction(async (s) => {
        const { spec, secretIds, volumeRefs } = await resolveRefs(s, caller.projectId, draft);
        const record: DeploymentRecord = {
          id: ctx.ids.id('dep'),
          project_id: caller.projectId,
          name: body.name,
          spec,
          revision_id: ctx.ids.uuidv7(),
          revision_hash: revisionHash(body.name, spec),
          desired_replicas: clampDesired(spec, undefined),
          failure: null,
          failed_revision_id: null,
          created_at: now,
          updated_at: now,
          version: 1,
        };
        await s.insertDeployment(record);
        await s.revisions.activated(record.id, record.revision_id, spec, 'create', now);
        await s.setDeploymentRefs(record.id, secretIds, volumeRefs);
        await createWorkerKey(s, ctx, record);
        await alsoWrite?.(s, record);
        return record;
      }),
    constraints(body.name),
  );
  ctx.runtime.changed(record.id);
  return view(ctx, record);
}

export async function findDeployment(ctx: CommandContext, caller: Caller, idOrName: string) {
  const found = await ctx.store.findDeployment(caller.projectId, idOrName);
  if (!found) throw errors.notFound(KIND, idOrName);
  return found;
}

/** The deployment's metrics history over the last `minutes` (metrics/history.ts records it). */
export async function deploymentMetrics(ctx: CommandContext, caller: Caller, idOrName: string, minutes = 60): Promise<DeploymentMetricsView> {
  const d = await findDeployment(ctx, caller, idOrName);
  const points = await ctx.store.metrics.series(d.id, ctx.clock.nowMs() - minutes * 60_000);
  return {
    object: 'list',
    deployment_id: d.id,
    interval_seconds: INTERVAL_MS / 1000,
    data: points.map((p) => ({
      time: new Date(p.at).toISOString(),
      requests: p.requests,
      p50_ms: p.p50_ms,
      p99_ms: p.p99_ms,
      in_flight: p.in_flight,
      ready_replicas: p.ready,
      desired_replicas: p.desired,
      queue_pending: p.queue_pending,
      queue_running: p.queue_running,
      jobs_done: p.jobs_done,
      job_latency_ms: p.job_latency_ms,
      decision: p.decision,
    })),
  };
}

export async function listDeployments(ctx: CommandContext, caller: Caller) {
  return (await ctx.store.listDeployments(caller.projectId)).map((d) => view(ctx, d));
}

export async function updateDeployment(ctx: CommandContext, caller: Caller, idOrName: string, body: UpdateDeploymentBody) {
  const record = await retryOnConflict(async () => {
    const current = await findDeployment(ctx, caller, idOrName);
    const name = body.name ?? current.name;
    const draft = draftFromPatch(current.spec, name, body);
    checkDraft(draft);
    // A change that runs nothing new (a description, the replica bounds) keeps the revision.
    const revisionFor = (hash: string) => (hash === current.revision_hash ? current.revision_id : ctx.ids.uuidv7());
    return applySpec(ctx, caller, current, name, draft, revisionFor, 'update');
  });
  ctx.runtime.changed(record.id);
  return view(ctx, record);
}

/**
 * Writes `draft` as the deployment's spec over the version read, with its secret and volume
 * references and the revision it makes active, in one transaction; STALE if another write won.
 */
function applySpec(
  ctx: CommandContext,
  caller: Caller,
  current: DeploymentRecord,
  name: string,
  draft: SpecDraft,
  revisionFor: (hash: string) => string,
  action: 'update' | 'rollback',
) {
  ctx.runtime.checkRunnable(draft);
  return withConstraints(
    () =>
      ctx.store.transaction(async (s) => {
        const { spec, secretIds, volumeRefs } = await resolveRefs(s, caller.projectId, draft);
        const hash = revisionHash(name, spec);
        const next: DeploymentRecord = {
          ...current,
          name,
          spec,
          revision_hash: hash,
          revision_id: revisionFor(hash),
          desired_replicas: clampDesired(spec, current.desired_replicas),
          updated_at: ctx.clock.now().toISOString(),
          version: current.version + 1,
        };
        if (!(await s.updateDeployment(next, current.version))) return STALE;
        await s.setDeploymentRefs(next.id, secretIds, volumeRefs);
        await s.revisions.activated(next.id, next.revision_id, spec, action, next.updated_at);
        return next;
      }),
    constraints(name),
  );
}

/**
 * Replaces every replica with a new one of the same spec, rolling as an update does (like
 * `kubectl rollout restart`): a new revision id, the spec unchanged.
 */
export async function restartDeployment(ctx: CommandContext, caller: Caller, idOrName: string) {
  const record = await retryOnConflict(async () => {
    const current = await findDeployment(ctx, caller, idOrName);
    const next: DeploymentRecord = { ...current, revision_id: ctx.ids.uuidv7(), updated_at: ctx.clock.now().toISOString(), version: current.version + 1 };
    return ctx.store.transaction(async (s) => {
      if (!(await s.updateDeployment(next, current.version))) return STALE;
      await s.revisions.activated(next.id, next.revision_id, next.spec, 'update', next.updated_at);
      return next;
    });
  });
  ctx.runtime.changed(record.id);
  return view(ctx, record);
}

/**
 * Makes a previous revision active again (Together's rollback): its spec, with the secrets and
 * volume versions it named (still there, or a 400 naming the field), under its own revision
 * id, so replicas still running it are kept and the rest roll over to it.
 */
export async function rollbackDeployment(ctx: CommandContext, caller: Caller, idOrName: string, revisionIdentifier: string) {
  const record = await retryOnConflict(async () => {
    const current = await findDeployment(ctx, caller, idOrName);
    const target = await ctx.store.revisions.find(current.id, revisionIdentifier);
    if (!target) throw errors.notFound('Revision', revisionIdentifier);
    return applySpec(ctx, caller, current, current.name, target.spec, () => target.revision_id, 'rollback');
  });
  ctx.runtime.changed(record.id);
  return view(ctx, record);
}

/** The revision history, newest first (`before`: events numbered below it; `limit` 1–100, default 10). */
export async function listRevisions(ctx: CommandContext, caller: Caller, idOrName: string, limit = 10, before?: number) {
  const d = await findDeployment(ctx, caller, idOrName);
  const events = await ctx.store.revisions.events(d.id, limit, before);
  return { object: 'list' as const, data: events.map((e) => ({ object: 'revision_event' as const, ...e })) };
}

/** One revision's configuration, by its number or id. */
export async function getRevision(ctx: CommandContext, caller: Caller, idOrName: string, revisionIdentifier: string) {
  const d = await findDeployment(ctx, caller, idOrName);
  const r = await ctx.store.revisions.find(d.id, revisionIdentifier);
  if (!r) throw errors.notFound('Revision', revisionIdentifier);
  return renderRevision(r);
}

export async function deleteDeployment(ctx: CommandContext, caller: Caller, idOrName: string) {
  const d = await findDeployment(ctx, caller, idOrName);
  await ctx.store.transaction((s) => s.deleteDeployment(d.id));
  ctx.runtime.changed(d.id);
  return { id: d.id, object: 'deployment', deleted: true };
}
