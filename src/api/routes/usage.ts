import type { FastifyInstance } from 'fastify';
import type { CommandContext } from '../../commands/context.js';
import { usageReport } from '../../commands/usage.js';
import { callerOf } from '../auth.js';
import { errorResponses } from '../../contract/schemas/common.js';
import { UsageQuery, UsageReport, type UsageQueryParams } from '../../contract/schemas/usage.js';

/** `GET /v1/usage`: metered replica time and its cost (Gantry's own; Together has no such route). */
export function usageRoutes(app: FastifyInstance, ctx: CommandContext) {
  app.get<{ Querystring: UsageQueryParams }>(
    '/usage',
    {
      schema: {
        tags: ['Usage'],
        summary: "The project's replica-minutes and cost in a time range, per endpoint and deployment",
        querystring: UsageQuery,
        response: { 200: UsageReport, ...errorResponses },
      },
    },
    async (req) => usageReport(ctx, callerOf(req), req.query),
  );
}
