/**
 * The floor for an API read on this machine: Fastify (the framework Gantry's API is built on)
 * answering one fixed JSON body behind a bearer-key check, nothing else (no store, no hooks,
 * no metrics). Run as a child process; prints `listening on URL`.
 *
 *   node --import tsx bench/lib/floor-server.ts KEY BODY_FILE
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [key, bodyFile] = process.argv.slice(2);
const body = JSON.parse(readFileSync(bodyFile!, 'utf8')) as object;
const app = Fastify();
app.get('/v1/deployments/:id', async (req, reply) => {
  if (req.headers.authorization !== `Bearer ${key}`) return reply.code(401).send({ error: 'unauthorized' });
  return body;
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`listening on ${url}`);
