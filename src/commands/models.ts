import { errors } from '../contract/errors.js';
import type { ModelInfoView, UploadModelBody } from '../contract/schemas/model.js';
import { sourceKind, type ModelImporter } from './model-import.js';
import type { ModelJobRecord, ModelRecord } from '../store/endpoint-store.js';
import type { CommandContext } from './context.js';
import type { EndpointEnv } from '../endpoints/endpoint-env.js';
import type { Caller } from '../contract/ports.js';
import { withConstraints } from './context.js';

/** Dedicated endpoints are billed by hardware time, so per-token prices are zero. */
const PRICING = { hourly: 0, input: 0, output: 0, base: 0, finetune: 0 };

/** The catalog, then the project's uploaded models that are ready to serve. */
export async function listModels(ctx: CommandContext, env: EndpointEnv, caller: Caller): Promise<ModelInfoView[]> {
  const listed = env.catalog.map((m) => ({
    id: m.id,
    object: 'model' as const,
    created: m.created ?? 0,
    type: m.type,
    display_name: m.display_name ?? m.id,
    ...(m.organization ? { organization: m.organization } : {}),
    ...(m.link ? { link: m.link } : {}),
    ...(m.license ? { license: m.license } : {}),
    ...(m.context_length ? { context_length: m.context_length } : {}),
    pricing: PRICING,
  }));
  const uploaded = (await ctx.store.endpoints.listModels(caller.projectId))
    .filter((m) => m.ready)
    .map((m) => ({
      id: m.name,
      object: 'model' as const,
      created: Math.floor(Date.parse(m.created_at) / 1000),
      type: 'chat' as const,
      display_name: m.name,
      organization: caller.projectName,
      pricing: PRICING,
    }));
  return [...listed, ...uploaded];
}

/**
 * Registers the model and its upload job (a durable row the importer claims), and starts
 * fetching the weights in the background.
 * A model whose earlier upload failed may be uploaded again under its name; each attempt
 * writes its own folder (`models/<job id>/`), so a failed attempt's files never mix in.
 */
export async function uploadModel(ctx: CommandContext, importer: ModelImporter, caller: Caller, body: UploadModelBody) {
  const kind = sourceKind(body.model_source);
  if (!kind) {
    throw errors.invalid('model_source', 'model_source: must be a Hugging Face repo id (owner/name), an http(s):// URL or an absolute local path');
  }
  const modelType = body.model_type ?? 'model';
  for (const field of ['base_model', 'lora_model'] as const) {
    if (body[field] !== undefined && modelType !== 'adapter')
      throw errors.invalid(field, `${field} is only for model_type "adapter" (the model an adapter was trained on)`);
  }
  const now = ctx.clock.now().toISOString();
  const name = `${caller.projectName}/${body.model_name}`;
  const jobId = `job-${ctx.ids.uuidv7()}`;
  const earlier = await ctx.store.endpoints.findModel(caller.projectId, name);
  if (earlier?.ready) throw errors.alreadyExists('Model', name);
  if (earlier && (await ctx.store.endpoints.hasUnfinishedJob(earlier.id))) {
    throw errors.conflict(`Model '${name}' is being uploaded already; GET /v1/jobs shows its job`, 'upload_in_progress');
  }
  const model: ModelRecord = {
    id: earlier?.id ?? `model-${ctx.ids.uuidv7()}`,
    project_id: caller.projectId,
    name,
    model_type: modelType,
    // Either names the model the adapter applies to; an endpoint serving another model refuses it.
    base_model: body.base_model ?? body.lora_model ?? null,
    source: body.model_source,
    description: body.description ?? '',
    weights_prefix: `models/${jobId}`,
    size_bytes: null,
    ready: false,
    created_at: earlier?.created_at ?? now,
  };
  const job: ModelJobRecord = {
    id: jobId,
    project_id: caller.projectId,
    model_id: model.id,
    status: 'Queued',
    status_updates: [{ status: 'Queued', message: 'Job created', timestamp: now }],
    args: { description: model.description, modelName: name, modelSource: body.model_source },
    created_at: now,
    updated_at: now,
    attempt: 0,
    claimed_by: null,
    lease_until: null,
    // The Hub token waits, sealed, for whichever instance runs the job (again after a restart).
    sealed_token: body.hf_token ? ctx.secretBox.seal(body.hf_token, jobId) : null,
  };
  await withConstraints(
    () =>
      ctx.store.transaction(async (s) => {
        await (earlier ? s.endpoints.retryModel(model) : s.endpoints.insertModel(model));
        await s.endpoints.insertJob(job);
      }),
    { unique: () => errors.alreadyExists('Model', name) },
  );
  importer.submitted(job.id);
  return { data: { job_id: job.id, model_name: name, model_id: model.id, model_source: kind }, message: 'Processing model weights. Job created.' };
}

const jobView = (j: ModelJobRecord) => ({
  type: 'model_upload',
  job_id: j.id,
  status: j.status,
  status_updates: j.status_updates,
  args: j.args,
  created_at: j.created_at,
  updated_at: j.updated_at,
});

export async function getJob(ctx: CommandContext, caller: Caller, id: string) {
  const j = await ctx.store.endpoints.findJob(caller.projectId, id);
  if (!j) throw errors.notFound('Job', id);
  return jobView(j);
}

export async function listJobs(ctx: CommandContext, caller: Caller) {
  return { data: (await ctx.store.endpoints.listJobs(caller.projectId)).map(jobView) };
}
