import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Clock } from '../domain/clock.js';
import { instrumentHttp, type Metrics } from '../metrics/http-metrics.js';
import { installClientDeadlines } from './client-deadlines.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling, installJsonParser } from './error-handler.js';
import { validatorCompiler } from './validation.js';

/** Ids and names are at most 100 characters; a little room for ids with prefixes. */
const MAX_PARAM_LENGTH = 200;

/** The Fastify instance every Gantry HTTP app starts from: limits, JSON only, deadlines, the one error renderer, request metrics. */
export function createFastify(deps: {
  bodyLimit: number;
  logger: FastifyBaseLogger;
  https?: { cert: string; key: string };
  metrics: Metrics;
  ctx: { clock: Clock };
}): FastifyInstance {
  const { bodyLimit } = deps;
  const options = {
    bodyLimit,
    loggerInstance: deps.logger,
    // Per-request log lines would cost more than the requests themselves; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrors(MAX_PARAM_LENGTH),
    clientErrorHandler,
  };
  // One app either way; only the server under it differs (Fastify types the two apart).
  const app = (deps.https ? Fastify({ ...options, https: deps.https }) : Fastify(options)) as unknown as FastifyInstance;
  app.decorateRequest('caller', null);
  app.setValidatorCompiler(validatorCompiler);
  // The API takes JSON only; any other body is a 415, not a string to be misread.
  app.removeContentTypeParser('text/plain');
  installJsonParser(app, bodyLimit);
  installClientDeadlines(app, deps.ctx.clock);
  installErrorHandling(app, bodyLimit);
  instrumentHttp(app, deps.metrics);
  return app;
}
