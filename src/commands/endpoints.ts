import { errors } from '../contract/errors.js';
import type { Caller } from '../contract/ports.js';
import type { CreateEndpointBody, EndpointView, UpdateEndpointBody } from '../contract/schemas/endpoint.js';
import type { EndpointEnv } from '../endpoints/endpoint-env.js';
import { endpointView } from '../endpoints/endpoint-state.js';
import { engineAdapter, engineDeployment, engineWorkload, pathInReplica, replicasFor, type ServableModel } from '../endpoints/engine-spec.js';
import type { EndpointRecord, EndpointSettings } from '../store/endpoint-store.js';
import { retryOnConflict, STALE, type CommandContext } from './context.js';
import { createDeployment, updateDeployment } from './deployments.js';

const KIND = 'Endpoint';

/** GPU memory an uploaded model needs: its weights plus a fifth for the KV cache and activations. */
const memoryFor = (sizeBytes: number) => Math.max(1, Math.ceil((sizeBytes * 1.2) / 1e9));

export async function findServableModel(ctx: CommandContext, env: EndpointEnv, projectId: string, id: string): Promise<ServableModel | undefined> {
  const listed = env.catalog.find((m) => m.id === id);
  if (listed) return { id, memoryGb: listed.memory_gb, weights: listed.weights ?? listed.id };
  const uploaded = await ctx.store.endpoints.findModel(projectId, id);
  if (!uploaded?.ready) return undefined;
  if (uploaded.model_type === 'adapter') {
    throw errors.invalid('model', `model: '${id}' is a LoRA adapter; bind it to an endpoint serving its base model (POST /v1/endpoints/{id}/adapters)`);
  }
  const mountPath = `/models/${uploaded.id}`;
  return { id, memoryGb: memoryFor(uploaded.size_bytes ?? 0), weights: pathInReplica(env, mountPath), volume: { name: uploaded.id, mountPath } };
}

function checkSettings(env: EndpointEnv, s: EndpointSettings) {
  if (s.autoscaling.min_replicas > s.autoscaling.max_replicas) {
    throw errors.invalid(
      'autoscaling.min_replicas',
      `autoscaling.min_replicas (${s.autoscaling.min_replicas}) must be at most autoscaling.max_replicas (${s.autoscaling.max_replicas})`,
    );
  }
  if (s.availability_zone !== null && !env.availabilityZones.includes(s.availability_zone)) {
    throw errors.invalid('availability_zone', `availability_zone: '${s.availability_zone}' is not one of ${env.availabilityZones.join(', ')}`);
  }
}

const renderOne = async (ctx: CommandContext, caller: Caller, e: EndpointRecord) =>
  endpointView(e, caller.projectName, await ctx.store.findDeploymentById(e.deployment_id), ctx.runtime.observe(e.deployment_id));

/**
 * Creating on hardware this cluster does not have, or too small for the model, is a 400 at
 * once; on hardware that exists but is busy, the endpoint is created and waits in PENDING until
 * the GPUs are free (as a Kubernetes pod waits to be scheduled).
 */
export async function createEndpoint(ctx: CommandContext, env: EndpointEnv, caller: Caller, body: CreateEndpointBody): Promise<EndpointView> {
  const hw = env.hardware.find(body.hardware);
  if (!hw) {
    const ids = env.hardware.configs().map((c) => c.id);
    throw errors.invalid(
      'hardware',
      `hardware: '${body.hardware}' is not a configuration of this cluster (${ids.length ? `GET /v1/hardware lists them: ${ids.join(', ')}` : 'it has no GPUs'})`,
    );
  }
  const model = await findServableModel(ctx, env, caller.projectId, body.model);
  if (!model) throw errors.invalid('model', `model: '${body.model}' is not in the catalog nor an uploaded model of this project (GET /v1/models lists them)`);
  if (hw.gpuCount * hw.gpuMemoryGb < model.memoryGb) {
    throw errors.invalid(
      'hardware',
      `hardware: ${hw.id} has ${hw.gpuCount * hw.gpuMemoryGb} GB of GPU memory; ${model.id} needs ${model.memoryGb} GB (GET /v1/hardware?model=… lists what fits)`,
    );
  }
  const settings: EndpointSettings = {
    display_name: body.display_name ?? body.model,
    autoscaling: body.autoscaling,
    inactive_timeout: body.inactive_timeout || null,
    disable_prompt_cache: body.disable_prompt_cache ?? false,
    disable_speculative_decoding: body.disable_speculative_decoding ?? false,
    availability_zone: body.availability_zone ?? null,
  };
  checkSettings(env, settings);
  const hex = ctx.ids.hex(4);
  const now = ctx.clock.now().toISOString();
  const endpoint = { name: `${caller.projectName}/${model.id}-${hex}`, engine: `endpoint-${hex}`, state: body.state ?? 'STARTED', settings };
  let record: EndpointRecord | undefined;
  await createDeployment(ctx, caller, engineDeployment(env, endpoint, hw, model), async (s, deployment) => {
    record = {
      id: `endpoint-${ctx.ids.uuidv7()}`,
      project_id: caller.projectId,
      name: endpoint.name,
      deployment_id: deployment.id,
      model: model.id,
      hardware: hw.id,
      state: endpoint.state,
      settings,
      created_at: now,
      updated_at: now,
      version: 1,
    };
    await s.endpoints.insert(record);
  });
  return renderOne(ctx, caller, record!);
}

export async function findEndpoint(ctx: CommandContext, caller: Caller, idOrName: string) {
  const e = await ctx.store.endpoints.find(caller.projectId, idOrName);
  if (!e) throw errors.notFound(KIND, idOrName);
  return e;
}

export async function getEndpoint(ctx: CommandContext, caller: Caller, idOrName: string) {
  return renderOne(ctx, caller, await findEndpoint(ctx, caller, idOrName));
}

export async function listEndpoints(ctx: CommandContext, caller: Caller, query: { type?: string; usage_type?: string }) {
  // Every endpoint here is a dedicated, on-demand one of the caller's project.
  if (query.type === 'serverless' || query.usage_type === 'reserved') return [];
  const [all, deployments] = await Promise.all([ctx.store.endpoints.list(caller.projectId), ctx.store.listDeployments(caller.projectId)]);
  const engines = new Map(deployments.map((d) => [d.id, d]));
  return all.map((e) => {
    const { id, name, model, hardware, owner, state, state_reason, created_at } = endpointView(
      e,
      caller.projectName,
      engines.get(e.deployment_id),
      ctx.runtime.observe(e.deployment_id),
    );
    return {
      object: 'endpoint' as const,
      id,
      name,
      model,
      hardware,
      type: 'dedicated' as const,
      owner,
      state,
      ...(state_reason ? { state_reason } : {}),
      created_at,
    };
  });
}

/** Start and stop (through `state`), scaling, display name and inactivity timeout. */
export async function updateEndpoint(ctx: CommandContext, env: EndpointEnv, caller: Caller, idOrName: string, body: UpdateEndpointBody) {
  const updated = await retryOnConflict(async () => {
    const current = await findEndpoint(ctx, caller, idOrName);
    const settings: EndpointSettings = {
      ...current.settings,
      ...(body.display_name !== undefined ? { display_name: body.display_name } : {}),
      ...(body.autoscaling ? { autoscaling: body.autoscaling } : {}),
      ...(body.inactive_timeout !== undefined ? { inactive_timeout: body.inactive_timeout || null } : {}),
    };
    checkSettings(env, settings);
    const next: EndpointRecord = {
      ...current,
      state: body.state ?? current.state,
      settings,
      updated_at: ctx.clock.now().toISOString(),
      version: current.version + 1,
    };
    return (await ctx.store.endpoints.update(next, current.version)) ? next : STALE;
  });
  await forgetRoutes(ctx, env, updated);
  // The engine follows the endpoint; it is written second, so a failure here leaves the
  // endpoint's new state on record and a retry of the same PATCH brings the engine along.
  await updateDeployment(ctx, caller, updated.deployment_id, replicasFor(updated.state, updated.settings));
  return renderOne(ctx, caller, updated);
}

/** The endpoint and its engine go in one transaction. */
export async function deleteEndpoint(ctx: CommandContext, env: EndpointEnv, caller: Caller, idOrName: string) {
  const e = await findEndpoint(ctx, caller, idOrName);
  const adapters = await ctx.store.endpoints.adapters(e.id);
  await ctx.store.transaction(async (s) => {
    await s.endpoints.delete(e.id);
    await s.deleteDeployment(e.deployment_id);
  });
  forget(env, e, adapters);
  ctx.runtime.changed(e.deployment_id);
}

/** The inference routes stop trusting what they knew of the endpoint: its name and its adapters' names. */
export async function forgetRoutes(ctx: CommandContext, env: EndpointEnv, e: EndpointRecord) {
  forget(env, e, await ctx.store.endpoints.adapters(e.id));
}

function forget(env: EndpointEnv, e: EndpointRecord, adapters: { adapter_name: string }[]) {
  for (const name of [e.name, ...adapters.map((a) => a.adapter_name)]) env.directory.forget(e.project_id, name);
}

/**
 * Rebuilds the engine's command, args and volumes from the endpoint's model and its bound
 * adapters: a new revision, rolled out by the deployment machinery without dropping requests.
 */
export async function syncEngine(ctx: CommandContext, env: EndpointEnv, caller: Caller, e: EndpointRecord) {
  const hw = env.hardware.find(e.hardware);
  const model = await findServableModel(ctx, env, e.project_id, e.model);
  if (!hw || !model)
    throw errors.conflict(
      `endpoint ${e.name}: its ${hw ? 'model' : 'hardware'} is no longer available, so its engine cannot be changed`,
      'endpoint_unavailable',
    );
  const adapters = (await ctx.store.endpoints.adapters(e.id)).map(engineAdapter);
  await updateDeployment(ctx, caller, e.deployment_id, engineWorkload(env, e, hw, model, adapters));
}
