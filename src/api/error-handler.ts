import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { GantryError, errors } from '../contract/errors.js';
import { StoreConstraintError } from '../store/executor.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Errors of this route go out as the bare error object (the queue's QueueError), not under "error". */
    flatErrors?: boolean;
    /** A deployment's worker key may call this route (for its own deployment). */
    workerRoute?: boolean;
  }
}

/**
 * The one place that renders errors. Known failures become Together's error shape with
 * their status; anything else is logged and answered as a 500 that reveals nothing.
 */
export function installErrorHandling(app: FastifyInstance, bodyLimit: number) {
  app.setErrorHandler((err: FastifyError | GantryError, request, reply) => {
    const apiError = toApiError(err, bodyLimit, request.headers['content-type']);
    // Gateway errors (502–504) are the replicas' trouble, not Gantry's: no error log line each.
    if (apiError.status >= 500 && apiError.status < 502) request.log.error({ err }, 'request failed');
    if (apiError.retryAfterSeconds !== undefined) reply.header('retry-after', String(apiError.retryAfterSeconds));
    const body = apiError.toBody();
    return reply.status(apiError.status).send(request.routeOptions.config?.flatErrors ? body.error : body);
  });

  app.setNotFoundHandler((request, reply) => {
    const e = errors.routeNotFound(request.method, request.url.split('?')[0] ?? '');
    return reply.status(404).send(e.toBody());
  });
}

/** Errors the router raises before any route runs (Fastify's frameworkErrors option). */
export function frameworkErrors(maxParamLength: number) {
  return (err: FastifyError, _req: unknown, reply: FastifyReply) => {
    const e = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? errors.uriTooLong(maxParamLength) : errors.badUrl();
    reply.status(e.status).send(e.toBody());
  };
}

/**
 * Errors Node's HTTP server meets before Fastify has a request (Fastify's clientErrorHandler
 * option): a request that is not HTTP, headers too large, a request that took too long.
 * Answered in the API's shape like every other error, then the connection is closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? errors.requestTimeout()
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? errors.headersTooLarge()
        : errors.malformedRequest();
  writeRawError(socket, e);
}

/** Answers an error straight on the socket (there is no request to reply to, or it is mid-body) and closes it. */
export function writeRawError(socket: Socket, e: GantryError) {
  const body = JSON.stringify(e.toBody());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Deeper JSON than any request of the API needs; recursion over a body never goes past it. */
const MAX_JSON_DEPTH = 64;

/** Whether JSON text opens more than `max` arrays or objects inside each other (a linear scan, no recursion). */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * JSON bodies with Fastify's own parser (which refuses __proto__ and constructor poisoning),
 * except that an empty body is no body: the Python SDK sends `Content-Type: application/json`
 * with nothing on DELETE. A route that needs a body then says so through its schema.
 */
export function installJsonParser(app: FastifyInstance, bodyLimit: number) {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (req, body, done) => {
    if (body === '') return done(null, undefined);
    // Bounded before anything recurses over it (the parser, validation, serialisation).
    if (nestsDeeperThan(body as string, MAX_JSON_DEPTH)) {
      return done(errors.invalid('body', `The request body nests deeper than ${MAX_JSON_DEPTH} levels`, 'invalid_body'), undefined);
    }
    return parse(req, body as string, done);
  });
}

function toApiError(err: FastifyError | GantryError, bodyLimit: number, contentType: string | undefined): GantryError {
  if (err instanceof GantryError) return err;
  // A constraint a command gave no meaning to is still a conflict with stored state.
  if (err instanceof StoreConstraintError) return errors.constraint(err.kind);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.tooLarge(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType(contentType);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errors.invalid('body', 'The request body is not valid JSON', 'invalid_json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.invalid('body', 'The request body does not match its Content-Length', 'invalid_body');
  }
  if (err instanceof SyntaxError || err.statusCode === 400) {
    return errors.invalid('body', 'The request body is not valid JSON', 'invalid_json');
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return errors.invalid(null, err.message, 'invalid_request');
  }
  return errors.internal();
}
