import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import * as secrets from '../../commands/secrets.js';
import type { CommandContext } from '../../commands/context.js';
import { callerOf } from '../auth.js';
import { Deleted, IdParams, ListOf, errorResponses } from '../../contract/schemas/common.js';
import { CreateSecretRequest, SecretResponseItem, UpdateSecretRequest, type CreateSecretBody, type UpdateSecretBody } from '../../contract/schemas/secret.js';

type Id = { Params: Static<typeof IdParams> };
const tags = ['Secrets'];

export function secretRoutes(app: FastifyInstance, ctx: CommandContext) {
  app.get(
    '/deployments/secrets',
    {
      schema: { tags, summary: 'List secrets (values are never returned)', response: { 200: ListOf(SecretResponseItem), ...errorResponses } },
    },
    async (req) => ({ object: 'list', data: await secrets.listSecrets(ctx, callerOf(req)) }),
  );

  app.post<{ Body: CreateSecretBody }>(
    '/deployments/secrets',
    {
      schema: { tags, summary: 'Create a secret', body: CreateSecretRequest, response: { 200: SecretResponseItem, ...errorResponses } },
    },
    async (req) => secrets.createSecret(ctx, callerOf(req), req.body),
  );

  app.get<Id>(
    '/deployments/secrets/:id',
    {
      schema: { tags, summary: 'Get a secret by id or name', params: IdParams, response: { 200: SecretResponseItem, ...errorResponses } },
    },
    async (req) => secrets.renderSecret(await secrets.getSecret(ctx, callerOf(req), req.params.id)),
  );

  app.patch<Id & { Body: UpdateSecretBody }>(
    '/deployments/secrets/:id',
    {
      schema: { tags, summary: 'Update a secret', params: IdParams, body: UpdateSecretRequest, response: { 200: SecretResponseItem, ...errorResponses } },
    },
    async (req) => secrets.updateSecret(ctx, callerOf(req), req.params.id, req.body),
  );

  app.delete<Id>(
    '/deployments/secrets/:id',
    {
      schema: { tags, summary: 'Delete a secret that no deployment uses', params: IdParams, response: { 200: Deleted, ...errorResponses } },
    },
    async (req) => secrets.deleteSecret(ctx, callerOf(req), req.params.id),
  );
}
