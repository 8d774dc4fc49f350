import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import type { CommandContext } from '../../commands/context.js';
import * as endpoints from '../../commands/endpoints.js';
import type { EndpointEnv } from '../../endpoints/endpoint-env.js';
import { callerOf } from '../auth.js';
import { errors } from '../../contract/errors.js';
import { ListOf, errorResponses } from '../../contract/schemas/common.js';
import { addAdapter, listAdapters, removeAdapter } from '../../commands/adapters.js';
import {
  AdapterAdded,
  AdapterItem,
  AdapterRemoved,
  AdapterRequest,
  type AdapterBody,
  CreateEndpointRequest,
  DedicatedEndpoint,
  EndpointParams,
  HardwareItem,
  HardwareQuery,
  ListEndpointItem,
  ListEndpointsQuery,
  UpdateEndpointRequest,
  type CreateEndpointBody,
  type UpdateEndpointBody,
} from '../../contract/schemas/endpoint.js';

type Id = { Params: Static<typeof EndpointParams> };
const tags = ['Endpoints'];

/** `/v1/endpoints`, `/v1/hardware`, `/v1/clusters/availability-zones`: dedicated endpoints. */
export function endpointRoutes(app: FastifyInstance, ctx: CommandContext, env: EndpointEnv) {
  app.post<{ Body: CreateEndpointBody }>(
    '/endpoints',
    {
      schema: { tags, summary: 'Create a dedicated endpoint', body: CreateEndpointRequest, response: { 200: DedicatedEndpoint, ...errorResponses } },
    },
    async (req) => endpoints.createEndpoint(ctx, env, callerOf(req), req.body),
  );

  app.get<{ Querystring: Static<typeof ListEndpointsQuery> }>(
    '/endpoints',
    {
      schema: { tags, summary: 'List endpoints', querystring: ListEndpointsQuery, response: { 200: ListOf(ListEndpointItem), ...errorResponses } },
    },
    async (req) => ({ object: 'list', data: await endpoints.listEndpoints(ctx, callerOf(req), req.query) }),
  );

  app.get<Id>(
    '/endpoints/:endpointId',
    {
      schema: { tags, summary: 'Get an endpoint (by id or name)', params: EndpointParams, response: { 200: DedicatedEndpoint, ...errorResponses } },
    },
    async (req) => endpoints.getEndpoint(ctx, callerOf(req), req.params.endpointId),
  );

  app.patch<Id & { Body: UpdateEndpointBody }>(
    '/endpoints/:endpointId',
    {
      schema: {
        tags,
        summary: 'Start, stop, scale or rename an endpoint',
        params: EndpointParams,
        body: UpdateEndpointRequest,
        response: { 200: DedicatedEndpoint, ...errorResponses },
      },
    },
    async (req) => endpoints.updateEndpoint(ctx, env, callerOf(req), req.params.endpointId, req.body),
  );

  // The older guide's start and stop (seed 002).
  for (const [action, state] of [
    ['start', 'STARTED'],
    ['stop', 'STOPPED'],
  ] as const) {
    app.post<Id>(
      `/endpoints/:endpointId/${action}`,
      {
        schema: {
          tags,
          summary: `${action[0]!.toUpperCase()}${action.slice(1)} an endpoint (older path; PATCH state does the same)`,
          params: EndpointParams,
          response: { 200: DedicatedEndpoint, ...errorResponses },
        },
      },
      async (req) => endpoints.updateEndpoint(ctx, env, callerOf(req), req.params.endpointId, { state }),
    );
  }

  app.delete<Id>(
    '/endpoints/:endpointId',
    {
      schema: { tags, summary: 'Delete an endpoint and its engine', params: EndpointParams, response: { 204: { type: 'null' }, ...errorResponses } },
    },
    async (req, reply) => {
      await endpoints.deleteEndpoint(ctx, env, callerOf(req), req.params.endpointId);
      return reply.status(204).send();
    },
  );

  app.get<Id>(
    '/endpoints/:endpointId/adapters',
    {
      schema: { tags, summary: 'LoRA adapters bound to an endpoint', params: EndpointParams, response: { 200: ListOf(AdapterItem), ...errorResponses } },
    },
    async (req) => listAdapters(ctx, callerOf(req), req.params.endpointId),
  );

  app.post<Id & { Body: AdapterBody }>(
    '/endpoints/:endpointId/adapters',
    {
      schema: {
        tags,
        summary: 'Bind an uploaded LoRA adapter: requests naming it go to this endpoint',
        params: EndpointParams,
        body: AdapterRequest,
        response: { 200: AdapterAdded, ...errorResponses },
      },
    },
    async (req) => addAdapter(ctx, env, callerOf(req), req.params.endpointId, req.body.model_id),
  );

  app.delete<Id & { Body: AdapterBody }>(
    '/endpoints/:endpointId/adapters',
    {
      schema: { tags, summary: 'Unbind a LoRA adapter', params: EndpointParams, body: AdapterRequest, response: { 200: AdapterRemoved, ...errorResponses } },
    },
    async (req) => removeAdapter(ctx, env, callerOf(req), req.params.endpointId, req.body.model_id),
  );

  app.get<{ Querystring: Static<typeof HardwareQuery> }>(
    '/hardware',
    {
      schema: {
        tags: ['Hardware'],
        summary: 'Hardware configurations (with ?model=: those it fits on, and whether they are free now)',
        querystring: HardwareQuery,
        response: { 200: ListOf(HardwareItem), ...errorResponses },
      },
    },
    async (req) => {
      const updated_at = ctx.clock.now().toISOString();
      let configs = env.hardware.configs();
      const model = req.query.model;
      if (model !== undefined) {
        const found = await endpoints.findServableModel(ctx, env, callerOf(req).projectId, model);
        if (!found) throw errors.notFound('Model', model);
        configs = configs.filter((c) => c.gpuCount * c.gpuMemoryGb >= found.memoryGb);
      }
      return {
        object: 'list',
        data: configs.map((c) => ({
          object: 'hardware' as const,
          id: c.id,
          pricing: { cents_per_minute: c.centsPerMinute },
          specs: { gpu_type: c.gpuType, gpu_link: c.link, gpu_memory: c.gpuMemoryGb, gpu_count: c.gpuCount },
          ...(model !== undefined ? { availability: { status: env.hardware.availability(c) } } : {}),
          updated_at,
        })),
      };
    },
  );

  app.get(
    '/clusters/availability-zones',
    {
      schema: {
        tags,
        summary: 'Availability zones endpoints may be placed in',
        response: { 200: { type: 'object', properties: { avzones: { type: 'array', items: { type: 'string' } } } } },
      },
    },
    async () => ({ avzones: env.availabilityZones }),
  );
}
