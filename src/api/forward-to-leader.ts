import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../contract/errors.js';

/**
 * Sends a request on to the leading instance and its answer back, streamed (a followed log
 * stays open as long as the client stays). The caller's key goes with it: every instance
 * reads the same keys.
 */
export async function forwardToLeader(leaderUrl: string, req: FastifyRequest, reply: FastifyReply) {
  const abort = new AbortController();
  req.raw.once('close', () => abort.abort());
  let res: Response;
  try {
    res = await fetch(new URL(req.url, leaderUrl), {
      headers: { authorization: req.headers.authorization ?? '' },
      signal: abort.signal,
    });
  } catch (err) {
    throw errors.badGateway(`the leading Gantry instance (${leaderUrl}) holds the runtime and could not be reached: ${(err as Error).message}`);
  }
  reply.code(res.status).header('content-type', res.headers.get('content-type') ?? 'application/json');
  return reply.send(res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream) : '');
}
