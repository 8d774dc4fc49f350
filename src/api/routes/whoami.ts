import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { errorResponses } from '../../contract/schemas/common.js';
import type { Caller } from '../../contract/ports.js';
import { callerOf } from '../auth.js';

/** A Gantry is one organization; its keys are project keys. */
const ORGANIZATION = { id: 'org_gantry', name: 'Gantry' };

/**
 * Who the key is, in the two shapes Together's SDKs read: `GET /v1/whoami` flat (npm
 * together-ai), `GET /v3/whoami` with nested objects (the Python package's CLI, which asks it
 * before every command to learn the key's project). Register under the matching prefix.
 */
export function whoamiRoute(app: FastifyInstance, shape: 'v1' | 'v3') {
  const v1 = shape === 'v1';
  app.get(
    '/whoami',
    {
      schema: {
        tags: ['Identity'],
        summary: "The calling key's project and organization",
        response: { 200: v1 ? FlatWhoami : NestedWhoami, ...errorResponses },
      },
    },
    async (req) => (v1 ? flat(callerOf(req)) : nested(callerOf(req))),
  );
}

const FlatWhoami = Type.Object({
  api_key_id: Type.String(),
  organization_id: Type.String(),
  organization_name: Type.String(),
  project_id: Type.String(),
  project_name: Type.String(),
  project_slug: Type.String(),
});
const flat = (c: Caller) => ({
  api_key_id: c.keyId,
  organization_id: ORGANIZATION.id,
  organization_name: ORGANIZATION.name,
  project_id: c.projectId,
  project_name: c.projectName,
  project_slug: c.projectName,
});

const NestedWhoami = Type.Object({
  type: Type.Literal('project_api_key'),
  api_key: Type.Object({ id: Type.String() }),
  organization: Type.Object({ id: Type.String(), name: Type.String() }),
  project: Type.Object({ id: Type.String(), name: Type.String(), slug: Type.String() }),
});
const nested = (c: Caller) => ({
  type: 'project_api_key' as const,
  api_key: { id: c.keyId },
  organization: ORGANIZATION,
  project: { id: c.projectId, name: c.projectName, slug: c.projectName },
});
