import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JobQueue } from '../../queue/job-queue.js';
import { callerOf } from '../auth.js';
import type { ConcurrencyLimit } from '../rate-limits.js';
import {
  CancelResponse,
  ClearResponse,
  JobList,
  JobListQuery,
  JobRef,
  JobStatusResponse,
  MetricsResponse,
  ModelRef,
  RetrieveQuery,
  RetrieveResponse,
  StatusReportRequest,
  SubmitRequest,
  SubmitResponse,
  queueErrorResponses,
  type JobListQueryParams,
  type JobRefBody,
  type ModelRefBody,
  type RetrieveQueryParams,
  type StatusReportBody,
  type SubmitBody,
} from '../../contract/schemas/queue.js';

const tags = ['Queue'];
/** The queue's errors are flat QueueError bodies (see error-handler.ts); worker keys may call these routes. */
const config = { flatErrors: true, workerRoute: true };

/** `/v1/queue/*`: what clients of a deployment's queue call. */
export function queueRoutes(app: FastifyInstance, queue: JobQueue) {
  app.post<{ Body: SubmitBody }>(
    '/queue/submit',
    {
      config,
      schema: { tags, summary: 'Submit a job', body: SubmitRequest, response: { 200: SubmitResponse, ...queueErrorResponses } },
    },
    async (req) => queue.submit(callerOf(req), req.body),
  );

  app.get<{ Querystring: JobRefBody }>(
    '/queue/status',
    {
      config,
      schema: { tags, summary: "A job's status", querystring: JobRef, response: { 200: JobStatusResponse, ...queueErrorResponses } },
    },
    async (req) => queue.status(callerOf(req), req.query.model, req.query.request_id),
  );

  app.get<{ Querystring: JobListQueryParams }>(
    '/queue/jobs',
    {
      // Not a worker route: a worker key reads the jobs it claimed, not the queue's history.
      config: { flatErrors: true },
      schema: {
        tags,
        summary: "A queue's latest jobs, newest first (Gantry's, for the console)",
        querystring: JobListQuery,
        response: { 200: JobList, ...queueErrorResponses },
      },
    },
    async (req) => ({ object: 'list' as const, data: await queue.latest(callerOf(req), req.query) }),
  );

  app.post<{ Body: JobRefBody }>(
    '/queue/cancel',
    {
      config,
      schema: {
        tags,
        summary: 'Cancel a pending job (409 with the unchanged status otherwise)',
        body: JobRef,
        response: { 200: CancelResponse, ...queueErrorResponses, 409: CancelResponse },
      },
    },
    async (req, reply) => {
      const { canceled, status } = await queue.cancel(callerOf(req), req.body.model, req.body.request_id);
      return reply.status(canceled ? 200 : 409).send({ status });
    },
  );

  app.post<{ Body: ModelRefBody }>(
    '/queue/clear',
    {
      config,
      schema: { tags, summary: 'Cancel every pending job', body: ModelRef, response: { 200: ClearResponse, ...queueErrorResponses } },
    },
    async (req) => queue.clear(callerOf(req), req.body.model),
  );

  app.get<{ Querystring: ModelRefBody }>(
    '/queue/metrics',
    {
      config,
      schema: { tags, summary: 'Jobs waiting and running', querystring: ModelRef, response: { 200: MetricsResponse, ...queueErrorResponses } },
    },
    async (req) => queue.metrics(callerOf(req), req.query.model),
  );
}

/** `/internal/v1/*`: the worker protocol (Together's sprocket library speaks it). */
export function workerRoutes(app: FastifyInstance, queue: JobQueue, longPolls: ConcurrencyLimit) {
  const retrieve = async (req: FastifyRequest<{ Querystring: RetrieveQueryParams }>, reply: FastifyReply) => {
    const { model, timeout, hostname, claim_timeout } = req.query;
    const release = longPolls.take(callerOf(req).keyId, 'queue long polls');
    const gone = new AbortController();
    reply.raw.once('close', () => gone.abort());
    try {
      const job = await queue.retrieve(
        callerOf(req),
        { model, waitMs: durationMs(timeout ?? '5s'), hostname: hostname ?? 'unknown', claimTimeoutS: claim_timeout ?? null },
        gone.signal,
      );
      return { data: job };
    } finally {
      release();
    }
  };
  const schema = {
    tags: ['Worker protocol'],
    summary: 'Long-poll for the next job (claims it)',
    querystring: RetrieveQuery,
    response: { 200: RetrieveResponse, ...queueErrorResponses },
  };
  app.get<{ Querystring: RetrieveQueryParams }>('/queue/retrieve', { config, schema }, retrieve);
  // The path older worker libraries use.
  app.get<{ Querystring: RetrieveQueryParams }>('/rabbitmq/retrieve', { config, schema: { ...schema, hide: true } }, retrieve);

  app.post<{ Body: StatusReportBody }>(
    '/videos/status',
    {
      config,
      schema: {
        tags: ['Worker protocol'],
        summary: 'Heartbeat (running), result (done) or failure (failed) of a claimed job',
        body: StatusReportRequest,
        response: { 200: JobStatusResponse, ...queueErrorResponses },
      },
    },
    async (req) => queue.report(callerOf(req), req.body),
  );
}

/** "5s", "500ms", "1m" or plain seconds (RetrieveQuery's pattern has let only these through). */
function durationMs(text: string): number {
  const m = /^([0-9.]+)(ms|s|m)?$/.exec(text)!;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}
