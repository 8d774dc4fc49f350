import { Type, type Static } from '@sinclair/typebox';

/** Volume schemas (CreateVolumeRequest, UpdateVolumeRequest, VolumeResponseItem). */
export const VOLUME_NAME_PATTERN = '^(?!\\.{1,2}$)[A-Za-z0-9_.-]+$';

const name = Type.String({ minLength: 1, maxLength: 100, pattern: VOLUME_NAME_PATTERN });
const type = Type.Literal('readOnly');
export const VolumeContentRequest = Type.Object(
  {
    type: Type.Literal('files'),
    // Checked further by checkSourcePrefix in commands/volumes.ts: relative, no ".." segment.
    source_prefix: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\u0000-\\u001f\\\\]+$' }),
  },
  { additionalProperties: false },
);

export const CreateVolumeRequest = Type.Object(
  { name, type, content: VolumeContentRequest },
  { additionalProperties: false },
);

export const UpdateVolumeRequest = Type.Object(
  { name: Type.Optional(name), type: Type.Optional(type), content: Type.Optional(VolumeContentRequest) },
  { additionalProperties: false },
);

export const VolumeQuery = Type.Object(
  { version: Type.Optional(Type.Integer({ minimum: 0 })) },
  { additionalProperties: false },
);

const FileInfo = Type.Object({ name: Type.String(), size: Type.Integer(), last_modified: Type.String() });

export const VolumeResponseItem = Type.Object(
  {
    object: Type.Literal('volume'),
    id: Type.String(),
    name: Type.String(),
    type,
    current_version: Type.Integer(),
    content: Type.Object({ type: Type.Literal('files'), source_prefix: Type.String(), files: Type.Array(FileInfo) }),
    mounted_by: Type.Array(Type.String()),
    version_history: Type.Record(
      Type.String(),
      Type.Object({
        version: Type.Integer(),
        content: Type.Object({ type: Type.Literal('files'), source_prefix: Type.String() }),
        mounted_by: Type.Array(Type.String()),
      }),
    ),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  {},
);

export type CreateVolumeBody = Static<typeof CreateVolumeRequest>;
export type UpdateVolumeBody = Static<typeof UpdateVolumeRequest>;
export type VolumeView = Static<typeof VolumeResponseItem>;
