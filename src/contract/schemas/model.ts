import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from './common.js';

export const ModelInfo = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  type: StringEnum(['chat', 'language', 'code', 'image', 'embedding', 'moderation', 'rerank'] as const),
  display_name: Type.Optional(Type.String()),
  organization: Type.Optional(Type.String()),
  link: Type.Optional(Type.String()),
  license: Type.Optional(Type.String()),
  context_length: Type.Optional(Type.Integer()),
  pricing: Type.Object({ hourly: Type.Number(), input: Type.Number(), output: Type.Number(), base: Type.Number(), finetune: Type.Number() }),
});
export type ModelInfoView = Static<typeof ModelInfo>;
export const ModelsQuery = Type.Object({ dedicated: Type.Optional(Type.Boolean()) });

export const UploadModelRequest = Type.Object(
  {
    model_name: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    model_source: Type.String({ minLength: 1, maxLength: 2000 }),
    model_type: Type.Optional(StringEnum(['model', 'adapter'] as const)),
    hf_token: Type.Optional(Type.String({ maxLength: 500 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    base_model: Type.Optional(Type.String({ maxLength: 300 })),
    lora_model: Type.Optional(Type.String({ maxLength: 300 })),
  },
  { additionalProperties: false },
);
export type UploadModelBody = Static<typeof UploadModelRequest>;

export const UploadModelResponse = Type.Object({
  data: Type.Object({ job_id: Type.String(), model_name: Type.String(), model_id: Type.String(), model_source: Type.String() }),
  message: Type.String(),
});

const JobStatus = StringEnum(['Queued', 'Running', 'Complete', 'Failed'] as const);
export const JobInfo = Type.Object({
  type: Type.String(),
  job_id: Type.String(),
  status: JobStatus,
  status_updates: Type.Array(Type.Object({ status: Type.String(), message: Type.String(), timestamp: Type.String() })),
  args: Type.Object({ description: Type.String(), modelName: Type.String(), modelSource: Type.String() }),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export const JobParams = Type.Object({ jobId: Type.String({ minLength: 1, maxLength: 200 }) });
