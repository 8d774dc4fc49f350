import { Type, type TSchema, type TUnsafe } from '@sinclair/typebox';

/** A string enum as plain JSON Schema ({"type":"string","enum":[…]}), typed as the union of its values. */
export const StringEnum = <const T extends readonly string[]>(values: T, options: object = {}): TUnsafe<T[number]> =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

/** Together's error body; every 4xx and 5xx uses it. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String(),
      param: Type.Union([Type.String(), Type.Null()]),
      code: Type.Union([Type.String(), Type.Null()]),
    }),
  },
  {},
);

export const IdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200, description: 'The resource id or its name' }),
});

export const ListOf = <T extends TSchema>(item: T) =>
  Type.Object({ object: Type.Literal('list'), data: Type.Array(item) });

/** DELETE answers with a small object, as Together's deployments API does. */
export const Deleted = Type.Object({ id: Type.String(), object: Type.String(), deleted: Type.Boolean() });

/** The same error not wrapped in "error": the queue's QueueError. */
const FlatErrorBody = ErrorBody.properties.error;
export const flatErrorResponses = { 400: FlatErrorBody, 401: FlatErrorBody, 403: FlatErrorBody, 404: FlatErrorBody, 409: FlatErrorBody, 413: FlatErrorBody, 415: FlatErrorBody };

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
};

/** What an environment variable (or a secret, which becomes one) may hold: anything but NUL, which no process environment can carry. */
export const NO_NUL_PATTERN = '^[^\\u0000]*$';
