import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { errorResponses } from '../../contract/schemas/common.js';
import { callerOf } from '../auth.js';

const Named = Type.Object({ id: Type.String(), name: Type.String() });

/**
 * `GET /v3/whoami`: who the key is. Together's CLI asks it before every command to learn the
 * key's project; Gantry's keys are project keys, and a Gantry is one organization.
 */
export function whoamiRoute(app: FastifyInstance) {
  app.get(
    '/whoami',
    {
      schema: {
        tags: ['Identity'],
        summary: "The calling key's project (Together's CLI resolves its project with it)",
        response: {
          200: Type.Object({
            type: Type.Literal('project_api_key'),
            api_key: Type.Object({ id: Type.String() }),
            organization: Named,
            project: Type.Object({ id: Type.String(), name: Type.String(), slug: Type.String() }),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      return {
        type: 'project_api_key' as const,
        api_key: { id: caller.keyId },
        organization: { id: 'org_gantry', name: 'Gantry' },
        project: { id: caller.projectId, name: caller.projectName, slug: caller.projectName },
      };
    },
  );
}
