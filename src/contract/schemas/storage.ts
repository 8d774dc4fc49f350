import { Type, type Static } from '@sinclair/typebox';

/** Checked further by storage/files.ts (segments, '.', '..'), which names the rule. */
const Filename = Type.String({ minLength: 1, maxLength: 1024, description: 'A relative path in the project\'s storage, e.g. "my-volume/0/model.bin"' });

const SignedUrl = Type.Object({
  url: Type.String(),
  method: Type.String(),
  headers: Type.Record(Type.String(), Type.String()),
});

export const UploadRequest = Type.Object({ filename: Filename }, { additionalProperties: false });
export type UploadRequestBody = Static<typeof UploadRequest>;
export const UploadResponse = Type.Object({ upload_url: SignedUrl });

export const MultipartInitRequest = Type.Object(
  { filename: Filename, parts_count: Type.Integer({ minimum: 1, maximum: 10_000 }) },
  { additionalProperties: false },
);
export type MultipartInitBody = Static<typeof MultipartInitRequest>;
export const MultipartInitResponse = Type.Object({
  upload_id: Type.String(),
  part_upload_urls: Type.Array(Type.Intersect([Type.Object({ part_number: Type.Integer() }), SignedUrl])),
});

export const MultipartCompleteRequest = Type.Object(
  {
    filename: Filename,
    upload_id: Type.String({ minLength: 1, maxLength: 100 }),
    parts: Type.Array(
      Type.Object({ part_number: Type.Integer({ minimum: 1, maximum: 10_000 }), etag: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
      { minItems: 1, maxItems: 10_000 },
    ),
  },
  { additionalProperties: false },
);
export type MultipartCompleteBody = Static<typeof MultipartCompleteRequest>;

export const MultipartAbortRequest = Type.Object(
  { filename: Filename, upload_id: Type.String({ minLength: 1, maxLength: 100 }) },
  { additionalProperties: false },
);
export type MultipartAbortBody = Static<typeof MultipartAbortRequest>;

/** What a finished upload stored. */
export const StoredFile = Type.Object({ object: Type.Literal('file'), filename: Type.String(), size: Type.Integer(), etag: Type.String() });

export const SignedQuery = Type.Object({ expires: Type.Optional(Type.String()), signature: Type.Optional(Type.String()) });
