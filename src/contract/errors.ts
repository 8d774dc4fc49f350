/**
 * The one error catalogue, closed: every error Gantry answers has a code listed here with its
 * HTTP status and Together's error `type`, and a factory below with its message template. Code
 * anywhere (domain rules, commands, the gateway) throws a GantryError; api/error-handler.ts is
 * the one place that renders it as Together's shape: {"error":{"message","type","param","code"}}.
 */
export const ERROR_CODES = {
  // 400: the request is wrong; `param` names the field.
  invalid_value: { status: 400, type: 'invalid_request_error' },
  missing_field: { status: 400, type: 'invalid_request_error' },
  unknown_field: { status: 400, type: 'invalid_request_error' },
  invalid_type: { status: 400, type: 'invalid_request_error' },
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_body: { status: 400, type: 'invalid_request_error' },
  bad_url: { status: 400, type: 'invalid_request_error' },
  malformed_request: { status: 400, type: 'invalid_request_error' },
  endpoint_not_started: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  invalid_api_key: { status: 401, type: 'authentication_error' },
  forbidden: { status: 403, type: 'permission_error' },
  not_found: { status: 404, type: 'not_found_error' },
  route_not_found: { status: 404, type: 'not_found_error' },
  model_not_found: { status: 404, type: 'not_found_error' },
  registry_off: { status: 404, type: 'not_found_error' },
  request_timeout: { status: 408, type: 'request_timeout' },
  // 409: the request is fine but the state it meets is not.
  already_exists: { status: 409, type: 'conflict_error' },
  conflict: { status: 409, type: 'conflict_error' },
  secret_in_use: { status: 409, type: 'conflict_error' },
  volume_in_use: { status: 409, type: 'conflict_error' },
  in_use: { status: 409, type: 'conflict_error' },
  adapter_bound: { status: 409, type: 'conflict_error' },
  endpoint_unavailable: { status: 409, type: 'conflict_error' },
  upload_in_progress: { status: 409, type: 'conflict_error' },
  job_not_running: { status: 409, type: 'conflict_error' },
  too_many_concurrent_updates: { status: 409, type: 'conflict_error' },
  body_too_large: { status: 413, type: 'request_too_large' },
  uri_too_long: { status: 414, type: 'uri_too_long' },
  unsupported_media_type: { status: 415, type: 'unsupported_media_type' },
  headers_too_large: { status: 431, type: 'request_header_fields_too_large' },
  rate_limited: { status: 429, type: 'rate_limit_exceeded' },
  internal_error: { status: 500, type: 'internal_error' },
  // 502–504: the replicas', not Gantry's, trouble.
  bad_gateway: { status: 502, type: 'bad_gateway' },
  no_ready_replica: { status: 503, type: 'service_unavailable' },
  upstream_timeout: { status: 504, type: 'gateway_timeout' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export type ErrorType = (typeof ERROR_CODES)[ErrorCode]['type'];
/** The codes of 400s: what `errors.invalid` may carry. */
type InvalidCode = { [C in ErrorCode]: (typeof ERROR_CODES)[C]['status'] extends 400 ? C : never }[ErrorCode];
type ConflictCode = { [C in ErrorCode]: (typeof ERROR_CODES)[C]['status'] extends 409 ? C : never }[ErrorCode];

/** An error with a catalogue code; its status and type come from the catalogue. */
export class GantryError extends Error {
  /** Sent as Retry-After (seconds). */
  retryAfterSeconds?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get type(): ErrorType {
    return ERROR_CODES[this.code].type;
  }

  toBody() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** The message templates, one per kind of failure. */
export const errors = {
  invalid: (param: string | null, message: string, code: InvalidCode = 'invalid_value') => new GantryError(code, message, param),
  unauthenticated: (message = 'Missing or invalid API key. Send it as "Authorization: Bearer <key>".') => new GantryError('invalid_api_key', message),
  forbidden: (message: string) => new GantryError('forbidden', message),
  registryOff: () =>
    new GantryError('registry_off', 'This Gantry runs no image registry: install docker-registry (CNCF distribution) and start gantry serve without --registry off'),
  notFound: (kind: string, idOrName: string) => new GantryError('not_found', `${kind} '${idOrName}' not found`),
  routeNotFound: (method: string, url: string) =>
    new GantryError(
      'route_not_found',
      url.startsWith('/v2/')
        ? `Route ${method} ${url} not found: Gantry serves Together's v1 API (/v1/endpoints, /v1/models, /v1/hardware), not the v2 project-scoped API that together 3.x's endpoints and models commands call`
        : `Route ${method} ${url} not found`,
    ),
  modelNotFound: (model: string) =>
    new GantryError(
      'model_not_found',
      `Model '${model}' not found: it names none of your dedicated endpoints nor a LoRA adapter bound to one (GET /v1/endpoints lists them)`,
      'model',
    ),
  alreadyExists: (kind: string, name: string) => new GantryError('already_exists', `${kind} with name '${name}' already exists`, 'name'),
  conflict: (message: string, code: ConflictCode = 'conflict', param: string | null = null) => new GantryError(code, message, param),
  /** A store constraint no command gave a meaning to: still a conflict with stored state, never a 500. */
  constraint: (kind: string) => new GantryError('conflict', `The request conflicts with what is stored (${kind} constraint); read the resource again and retry`),
  tooManyUpdates: () => new GantryError('too_many_concurrent_updates', 'The resource changed too often while this request was applied; send it again'),
  tooLarge: (limit: number) => new GantryError('body_too_large', `Request body is larger than the limit of ${limit} bytes`),
  unsupportedMediaType: (type: string | undefined) =>
    new GantryError('unsupported_media_type', `Unsupported Content-Type '${type ?? ''}': send the body as application/json`),
  badUrl: () => new GantryError('bad_url', 'The request URL is not valid (bad percent-encoding)'),
  uriTooLong: (max: number) => new GantryError('uri_too_long', `A path segment is longer than ${max} characters; no id or name is that long`),
  /** Node's HTTP parser refused the request before any route saw it. */
  malformedRequest: () => new GantryError('malformed_request', 'The request is not valid HTTP/1.1'),
  requestTimeout: () => new GantryError('request_timeout', 'The request did not arrive in time; send it again'),
  headersTooLarge: () => new GantryError('headers_too_large', 'The request line and headers are larger than this server accepts (16 KiB)'),
  internal: () => new GantryError('internal_error', 'Internal server error'),
  /** The gateway could not get an answer from any replica. */
  badGateway: (message: string) => new GantryError('bad_gateway', message),
  /** No replica could take the request in time; `retryAfterSeconds` goes into Retry-After. */
  unavailable: (message: string, retryAfterSeconds: number) => Object.assign(new GantryError('no_ready_replica', message), { retryAfterSeconds }),
  gatewayTimeout: (message: string) => new GantryError('upstream_timeout', message),
  /** A key over its rate or concurrency limit; `retryAfterSeconds` goes into Retry-After. */
  rateLimited: (message: string, retryAfterSeconds: number) => Object.assign(new GantryError('rate_limited', message), { retryAfterSeconds }),
};
