import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import * as volumes from '../../commands/volumes.js';
import type { CommandContext } from '../../commands/context.js';
import { callerOf } from '../auth.js';
import { Deleted, IdParams, ListOf, errorResponses } from '../../contract/schemas/common.js';
import {
  CreateVolumeRequest,
  UpdateVolumeRequest,
  VolumeQuery,
  VolumeResponseItem,
  type CreateVolumeBody,
  type UpdateVolumeBody,
} from '../../contract/schemas/volume.js';

type Id = { Params: Static<typeof IdParams> };
const tags = ['Volumes'];
const base = '/deployments/storage/volumes';

export function volumeRoutes(app: FastifyInstance, ctx: CommandContext) {
  app.get(
    base,
    {
      schema: { tags, summary: 'List volumes', response: { 200: ListOf(VolumeResponseItem), ...errorResponses } },
    },
    async (req) => ({ object: 'list', data: await volumes.listVolumes(ctx, callerOf(req)) }),
  );

  app.post<{ Body: CreateVolumeBody }>(
    base,
    {
      schema: { tags, summary: 'Create a volume', body: CreateVolumeRequest, response: { 200: VolumeResponseItem, ...errorResponses } },
    },
    async (req) => volumes.createVolume(ctx, callerOf(req), req.body),
  );

  app.get<Id & { Querystring: Static<typeof VolumeQuery> }>(
    `${base}/:id`,
    {
      schema: {
        tags,
        summary: 'Get a volume (optionally one version of it)',
        params: IdParams,
        querystring: VolumeQuery,
        response: { 200: VolumeResponseItem, ...errorResponses },
      },
    },
    async (req) => volumes.getVolume(ctx, callerOf(req), req.params.id, req.query.version),
  );

  app.patch<Id & { Body: UpdateVolumeBody }>(
    `${base}/:id`,
    {
      schema: {
        tags,
        summary: 'Update a volume; new content makes a new version',
        params: IdParams,
        body: UpdateVolumeRequest,
        response: { 200: VolumeResponseItem, ...errorResponses },
      },
    },
    async (req) => volumes.updateVolume(ctx, callerOf(req), req.params.id, req.body),
  );

  app.delete<Id>(
    `${base}/:id`,
    {
      schema: { tags, summary: 'Delete a volume that no deployment mounts', params: IdParams, response: { 200: Deleted, ...errorResponses } },
    },
    async (req) => volumes.deleteVolume(ctx, callerOf(req), req.params.id),
  );
}
