import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { callerOf } from '../auth.js';
import { errors } from '../../contract/errors.js';
import type { EndpointDirectory } from '../../endpoints/endpoint-directory.js';
import type { Route } from '../../gateway/routing-table.js';

export interface InferenceOptions {
  directory: EndpointDirectory;
  /** Largest request body read (inference bodies are read whole to find `model`). */
  bodyLimit: number;
}

/** A deployment the gateway forwards to: its route in the routing table, and its name (for metrics). */
export interface Target {
  route: Route;
  name: string;
}

type Proxy = (req: FastifyRequest, reply: FastifyReply, target: Target, path: string, buffered?: Buffer) => Promise<void>;

/** The OpenAI-compatible routes dedicated endpoints serve; each goes to the engine at the same path. */
const PATHS = ['/chat/completions', '/completions', '/embeddings'];

/**
 * `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings` whose `model` names one of
 * the caller's endpoints, or a LoRA adapter bound to one: forwarded by the gateway to that
 * endpoint's engine (held while it scales from zero, streamed as the engine streams). Unknown
 * model: 404; stopped endpoint: 400.
 */
export function inferenceRoutes(app: FastifyInstance, o: InferenceOptions & { targetOf: (projectId: string, name: string) => Promise<Target>; proxy: Proxy }) {
  for (const path of PATHS) {
    app.post(path, { schema: { tags: ['Inference'], summary: `OpenAI-compatible ${path.slice(1)} on a dedicated endpoint` } }, async (req, reply) => {
      const caller = callerOf(req);
      const body = await readBody(req.raw, o.bodyLimit);
      const model = modelOf(body);
      const endpoint = await o.directory.resolve(caller.projectId, model);
      if (!endpoint) throw errors.modelNotFound(model);
      if (endpoint.state === 'STOPPED') {
        throw errors.invalid(
          'model',
          `Endpoint '${endpoint.name}' is not started (it is stopped); start it with PATCH /v1/endpoints/${endpoint.id} {"state": "STARTED"}`,
          'endpoint_not_started',
        );
      }
      await o.proxy(req, reply, await o.targetOf(caller.projectId, endpoint.engine), `/v1${path}`, body);
    });
  }
}

async function readBody(stream: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw errors.tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function modelOf(body: Buffer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw errors.invalid(null, 'The request body must be a JSON object');
  }
  const model = (parsed as { model?: unknown } | null)?.model;
  if (typeof model !== 'string' || model === '') throw errors.invalid('model', 'model is required: the name of one of your dedicated endpoints');
  return model;
}
