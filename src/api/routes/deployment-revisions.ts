import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import * as deployments from '../../commands/deployments.js';
import type { CommandContext } from '../../commands/context.js';
import { callerOf } from '../auth.js';
import { IdParams, errorResponses } from '../../contract/schemas/common.js';
import { DeploymentResponseItem, DeploymentRevision, RevisionEventList, RevisionsQuery, RollbackRequest } from '../../contract/schemas/deployment.js';

const tags = ['Deployments'];
const RevisionParams = Type.Intersect([IdParams, Type.Object({ revision: Type.String({ minLength: 1, maxLength: 100 }) })]);

/** A deployment's revision history and rollback, as Together's Python SDK calls them (`list_revisions`, `retrieve_revision`, `rollback`). */
export function deploymentRevisionRoutes(app: FastifyInstance, ctx: CommandContext) {
  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof RevisionsQuery> }>(
    '/deployments/:id/revisions',
    {
      schema: {
        tags,
        summary: 'Revision history, newest first: each time a revision became active (create, update, rollback)',
        params: IdParams,
        querystring: RevisionsQuery,
        response: { 200: RevisionEventList, ...errorResponses },
      },
    },
    async (req) => deployments.listRevisions(ctx, callerOf(req), req.params.id, req.query.limit, req.query.before),
  );

  app.get<{ Params: Static<typeof RevisionParams> }>(
    '/deployments/:id/revisions/:revision',
    {
      schema: {
        tags,
        summary: "A revision's configuration, by revision number or id",
        params: RevisionParams,
        response: { 200: DeploymentRevision, ...errorResponses },
      },
    },
    async (req) => deployments.getRevision(ctx, callerOf(req), req.params.id, req.params.revision),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof RollbackRequest> }>(
    '/deployments/:id/rollback',
    {
      schema: {
        tags,
        summary: 'Make a previous revision active again: replicas running it are kept, the rest roll over to it',
        params: IdParams,
        body: RollbackRequest,
        response: { 200: DeploymentResponseItem, ...errorResponses },
      },
    },
    async (req) => deployments.rollbackDeployment(ctx, callerOf(req), req.params.id, req.body.revision_identifier),
  );
}
