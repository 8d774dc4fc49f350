/**
 * The one error catalogue. Every error the API returns is an ApiError rendered by the
 * handler in error-handler.ts into Together's shape: {"error":{"message","type","param","code"}}.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'request_timeout'
  | 'request_too_large'
  | 'uri_too_long'
  | 'unsupported_media_type'
  | 'request_header_fields_too_large'
  | 'internal_error'
  | 'bad_gateway'
  | 'service_unavailable'
  | 'gateway_timeout';

const STATUS: Record<ErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  request_timeout: 408,
  request_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  request_header_fields_too_large: 431,
  internal_error: 500,
  bad_gateway: 502,
  service_unavailable: 503,
  gateway_timeout: 504,
};

export class ApiError extends Error {
  readonly status: number;
  /** Sent as Retry-After (seconds) with a 503. */
  retryAfterSeconds?: number;
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.status = STATUS[type];
  }

  toBody() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const errors = {
  invalid: (param: string | null, message: string, code = 'invalid_value') =>
    new ApiError('invalid_request_error', message, param, code),
  unauthenticated: (message = 'Missing or invalid API key. Send it as "Authorization: Bearer <key>".') =>
    new ApiError('authentication_error', message, null, 'invalid_api_key'),
  forbidden: (message: string) => new ApiError('permission_error', message, null, 'forbidden'),
  notFound: (kind: string, idOrName: string) =>
    new ApiError('not_found_error', `${kind} '${idOrName}' not found`, null, 'not_found'),
  routeNotFound: (method: string, url: string) =>
    new ApiError('not_found_error', `Route ${method} ${url} not found`, null, 'route_not_found'),
  alreadyExists: (kind: string, name: string) =>
    new ApiError('conflict_error', `${kind} with name '${name}' already exists`, 'name', 'already_exists'),
  conflict: (message: string, code = 'conflict') => new ApiError('conflict_error', message, null, code),
  tooLarge: (limit: number) =>
    new ApiError('request_too_large', `Request body is larger than the limit of ${limit} bytes`, null, 'body_too_large'),
  unsupportedMediaType: (type: string | undefined) =>
    new ApiError(
      'unsupported_media_type',
      `Unsupported Content-Type '${type ?? ''}': send the body as application/json`,
      null,
      'unsupported_media_type',
    ),
  badUrl: () => new ApiError('invalid_request_error', 'The request URL is not valid (bad percent-encoding)', null, 'bad_url'),
  uriTooLong: (max: number) =>
    new ApiError('uri_too_long', `A path segment is longer than ${max} characters; no id or name is that long`, null, 'uri_too_long'),
  /** Node's HTTP parser refused the request before any route saw it. */
  malformedRequest: () => new ApiError('invalid_request_error', 'The request is not valid HTTP/1.1', null, 'malformed_request'),
  requestTimeout: () => new ApiError('request_timeout', 'The request did not arrive in time; send it again', null, 'request_timeout'),
  headersTooLarge: () =>
    new ApiError('request_header_fields_too_large', 'The request line and headers are larger than this server accepts (16 KiB)', null, 'headers_too_large'),
  internal: () => new ApiError('internal_error', 'Internal server error', null, 'internal_error'),
  /** The gateway could not get an answer from any replica. */
  badGateway: (message: string) => new ApiError('bad_gateway', message, null, 'bad_gateway'),
  /** No replica could take the request in time; `retryAfterSeconds` goes into Retry-After. */
  unavailable: (message: string, retryAfterSeconds: number) =>
    Object.assign(new ApiError('service_unavailable', message, null, 'no_ready_replica'), { retryAfterSeconds }),
  gatewayTimeout: (message: string) => new ApiError('gateway_timeout', message, null, 'upstream_timeout'),
};
