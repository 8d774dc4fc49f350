import { Type, type Static } from '@sinclair/typebox';
import { NO_NUL_PATTERN } from './common.js';

/** Secret schemas (CreateSecretRequest, UpdateSecretRequest, SecretResponseItem). A value is never returned. */
const name = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_\\-/.]+$' });
const value = Type.String({ minLength: 1, maxLength: 65536, pattern: NO_NUL_PATTERN });
const description = Type.String({ maxLength: 500 });
const projectId = Type.String({ maxLength: 200, description: 'Ignored: the project comes from the API key' });

export const CreateSecretRequest = Type.Object(
  { name, value, description: Type.Optional(description), project_id: Type.Optional(projectId) },
  { additionalProperties: false },
);

export const UpdateSecretRequest = Type.Object(
  {
    name: Type.Optional(name),
    value: Type.Optional(value),
    description: Type.Optional(description),
    project_id: Type.Optional(projectId),
  },
  { additionalProperties: false },
);

export const SecretResponseItem = Type.Object(
  {
    object: Type.Literal('secret'),
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    created_at: Type.String(),
    updated_at: Type.String(),
    created_by: Type.String(),
    last_updated_by: Type.String(),
  },
  {},
);

export type CreateSecretBody = Static<typeof CreateSecretRequest>;
export type UpdateSecretBody = Static<typeof UpdateSecretRequest>;
export type SecretView = Static<typeof SecretResponseItem>;
