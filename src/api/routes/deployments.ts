import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import * as deployments from '../../commands/deployments.js';
import type { CommandContext } from '../../commands/context.js';
import { callerOf } from '../auth.js';
import { forwardToLeader } from '../forward-to-leader.js';
import { Deleted, IdParams, ListOf, errorResponses } from '../../contract/schemas/common.js';
import {
  CreateDeploymentRequest,
  DeploymentResponseItem,
  UpdateDeploymentRequest,
  DeploymentLogs,
  DeploymentMetrics,
  LogsQuery,
  MetricsQuery,
  type CreateDeploymentBody,
  type UpdateDeploymentBody,
} from '../../contract/schemas/deployment.js';

type Id = { Params: Static<typeof IdParams> };
const tags = ['Deployments'];

export function deploymentRoutes(app: FastifyInstance, ctx: CommandContext) {
  app.get(
    '/deployments',
    {
      schema: { tags, summary: 'List deployments', response: { 200: ListOf(DeploymentResponseItem), ...errorResponses } },
    },
    async (req) => ({ object: 'list', data: await deployments.listDeployments(ctx, callerOf(req)) }),
  );

  app.post<{ Body: CreateDeploymentBody }>(
    '/deployments',
    {
      schema: { tags, summary: 'Create a deployment', body: CreateDeploymentRequest, response: { 200: DeploymentResponseItem, ...errorResponses } },
    },
    async (req) => deployments.createDeployment(ctx, callerOf(req), req.body),
  );

  app.get<Id>(
    '/deployments/:id',
    {
      schema: { tags, summary: 'Get a deployment by id or name', params: IdParams, response: { 200: DeploymentResponseItem, ...errorResponses } },
    },
    async (req) => deployments.view(ctx, await deployments.findDeployment(ctx, callerOf(req), req.params.id)),
  );

  app.patch<Id & { Body: UpdateDeploymentBody }>(
    '/deployments/:id',
    {
      schema: {
        tags,
        summary: 'Update a deployment',
        params: IdParams,
        body: UpdateDeploymentRequest,
        response: { 200: DeploymentResponseItem, ...errorResponses },
      },
    },
    async (req) => deployments.updateDeployment(ctx, callerOf(req), req.params.id, req.body),
  );

  app.get<Id & { Querystring: Static<typeof LogsQuery> }>(
    '/deployments/:id/logs',
    {
      schema: {
        tags,
        summary: 'Replica output; with follow=true an NDJSON stream of {"lines":[…]} that ends when the client leaves',
        params: IdParams,
        querystring: LogsQuery,
        response: { 200: DeploymentLogs, ...errorResponses },
      },
    },
    async (req, reply) => {
      const d = await deployments.findDeployment(ctx, callerOf(req), req.params.id);
      // Several instances: the leader holds the runtime, and so the logs.
      const leader = ctx.runtime.elsewhere?.();
      if (leader) return forwardToLeader(leader, req, reply);
      const filter = { replicaId: req.query.replica_id, revisionId: req.query.revision };
      const lines = await ctx.runtime.logs(d.id, filter);
      if (!req.query.follow) return { lines };
      // Streamed by hand: the serialiser's schema describes one {"lines"} object, this is many.
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
      res.write(JSON.stringify({ lines }) + '\n');
      const stop = ctx.runtime.followLogs(d.id, filter, (more) => res.write(JSON.stringify({ lines: more }) + '\n'));
      res.once('close', stop);
    },
  );

  app.post<Id>(
    '/deployments/:id/restart',
    {
      schema: {
        tags,
        summary: "Replace every replica with a new one of the same spec, rolling as an update does (Gantry's; like kubectl rollout restart)",
        params: IdParams,
        response: { 200: DeploymentResponseItem, ...errorResponses },
      },
    },
    async (req) => deployments.restartDeployment(ctx, callerOf(req), req.params.id),
  );

  app.get<Id & { Querystring: Static<typeof MetricsQuery> }>(
    '/deployments/:id/metrics',
    {
      schema: {
        tags,
        summary:
          "The deployment's metrics every 10 s over the last minutes (Gantry's, for the console): requests, latency, replicas, queue, autoscaler decisions",
        params: IdParams,
        querystring: MetricsQuery,
        response: { 200: DeploymentMetrics, ...errorResponses },
      },
    },
    async (req) => deployments.deploymentMetrics(ctx, callerOf(req), req.params.id, req.query.minutes),
  );

  app.delete<Id>(
    '/deployments/:id',
    {
      schema: { tags, summary: 'Delete a deployment', params: IdParams, response: { 200: Deleted, ...errorResponses } },
    },
    async (req) => deployments.deleteDeployment(ctx, callerOf(req), req.params.id),
  );
}
