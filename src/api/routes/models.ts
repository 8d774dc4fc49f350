import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import type { CommandContext } from '../../commands/context.js';
import type { EndpointEnv } from '../../endpoints/endpoint-env.js';
import * as models from '../../commands/models.js';
import type { ModelImporter } from '../../commands/model-import.js';
import { callerOf } from '../auth.js';
import { errorResponses } from '../../contract/schemas/common.js';
import { JobInfo, JobParams, ModelInfo, ModelsQuery, UploadModelRequest, UploadModelResponse, type UploadModelBody } from '../../contract/schemas/model.js';

/** `GET /v1/models` (also the older `/v0/models`), `POST /v1/models`, `/v1/jobs`. */
export function modelRoutes(app: FastifyInstance, ctx: CommandContext, env: EndpointEnv, importer: ModelImporter) {
  app.get<{ Querystring: Static<typeof ModelsQuery> }>(
    '/models',
    {
      schema: {
        tags: ['Models'],
        summary: 'Models endpoints can serve: the catalog and your uploads (a bare array)',
        querystring: ModelsQuery,
        response: { 200: { type: 'array', items: ModelInfo }, ...errorResponses },
      },
    },
    async (req) => models.listModels(ctx, env, callerOf(req)),
  );

  app.post<{ Body: UploadModelBody }>(
    '/models',
    {
      schema: {
        tags: ['Models'],
        summary: 'Upload a model: answers with the job fetching its weights',
        body: UploadModelRequest,
        response: { 200: UploadModelResponse, ...errorResponses },
      },
    },
    async (req) => models.uploadModel(ctx, importer, callerOf(req), req.body),
  );

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['Jobs'],
        summary: 'Model upload jobs, newest first',
        response: { 200: { type: 'object', properties: { data: { type: 'array', items: JobInfo } } }, ...errorResponses },
      },
    },
    async (req) => models.listJobs(ctx, callerOf(req)),
  );

  app.get<{ Params: Static<typeof JobParams> }>(
    '/jobs/:jobId',
    {
      schema: { tags: ['Jobs'], summary: 'A model upload job', params: JobParams, response: { 200: JobInfo, ...errorResponses } },
    },
    async (req) => models.getJob(ctx, callerOf(req), req.params.jobId),
  );
}
