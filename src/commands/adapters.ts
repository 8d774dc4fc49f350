import { errors } from '../contract/errors.js';
import type { EndpointRecord } from '../store/endpoint-store.js';
import type { CommandContext } from './context.js';
import { findEndpoint, syncEngine } from './endpoints.js';
import type { EndpointEnv } from '../endpoints/endpoint-env.js';
import type { Caller } from '../contract/ports.js';
import { withConstraints } from './context.js';

/**
 * LoRA adapters bound to a dedicated endpoint. Binding adds the adapter's weights to the
 * endpoint's engine (vLLM's `--enable-lora --lora-modules <name>=<path>`), a new revision rolled
 * out like any deployment change; requests whose `model` is the adapter's name then go to the
 * endpoint, and the engine applies the adapter.
 */

/** `<endpoint name>:<adapter model name>`, checked against the endpoint it is sent to. */
function adapterNameIn(e: EndpointRecord, modelId: string): string {
  const prefix = `${e.name}:`;
  if (!modelId.startsWith(prefix) || modelId.length === prefix.length) {
    throw errors.invalid(
      'model_id',
      `model_id must be "<endpoint name>:<adapter model name>" for this endpoint, i.e. start with "${prefix}" (got ${JSON.stringify(modelId)})`,
    );
  }
  return modelId.slice(prefix.length);
}

const view = (e: EndpointRecord, adapterName: string) => ({ adapter_name: adapterName, endpoint_name: e.name, model_id: `${e.name}:${adapterName}` });

export async function listAdapters(ctx: CommandContext, caller: Caller, endpointIdOrName: string) {
  const e = await findEndpoint(ctx, caller, endpointIdOrName);
  return { object: 'list' as const, data: (await ctx.store.endpoints.adapters(e.id)).map((b) => view(e, b.adapter_name)) };
}

/** Binds an uploaded adapter; binding it again to the same endpoint is a no-op that re-applies the engine. */
export async function addAdapter(ctx: CommandContext, env: EndpointEnv, caller: Caller, endpointIdOrName: string, modelId: string) {
  const e = await findEndpoint(ctx, caller, endpointIdOrName);
  const name = adapterNameIn(e, modelId);
  const adapter = await ctx.store.endpoints.findModel(caller.projectId, name);
  if (!adapter?.ready || adapter.model_type !== 'adapter') {
    throw errors.invalid(
      'model_id',
      `model_id: '${name}' is not a LoRA adapter uploaded to this project and ready (POST /v1/models with model_type "adapter")`,
    );
  }
  if (adapter.base_model !== null && adapter.base_model !== e.model && adapter.base_model !== e.name) {
    throw errors.invalid('model_id', `model_id: adapter '${name}' is for ${adapter.base_model}; endpoint ${e.name} serves ${e.model}`);
  }
  const bound = await ctx.store.endpoints.findBinding(caller.projectId, name);
  if (bound && bound.endpoint_id !== e.id) throw errors.conflict(`adapter '${name}' is bound to another endpoint; remove it there first`, 'adapter_bound');
  if (!bound) {
    const binding = { endpoint_id: e.id, project_id: caller.projectId, adapter_name: name, model_id: adapter.id, created_at: ctx.clock.now().toISOString() };
    await withConstraints(() => ctx.store.endpoints.bindAdapter(binding), {
      unique: () => errors.conflict(`adapter '${name}' was just bound to another endpoint`, 'adapter_bound'),
    });
  }
  env.directory.forget(e.project_id, name);
  await syncEngine(ctx, env, caller, e);
  return { model_id: modelId };
}

export async function removeAdapter(ctx: CommandContext, env: EndpointEnv, caller: Caller, endpointIdOrName: string, modelId: string) {
  const e = await findEndpoint(ctx, caller, endpointIdOrName);
  const name = adapterNameIn(e, modelId);
  if (!(await ctx.store.endpoints.unbindAdapter(e.id, name))) throw errors.notFound('Adapter', modelId);
  env.directory.forget(e.project_id, name);
  await syncEngine(ctx, env, caller, e);
  return { deleted: true, model_id: modelId };
}
