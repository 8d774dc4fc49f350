import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';

/**
 * The web console (console/, built by `npm run build` into dist/console): static files under
 * /console/, which call the public API with the key the user signs in with. Nothing here is
 * behind a key, and nothing here reads data: the files are the same for everyone.
 */
export async function consoleRoutes(app: FastifyInstance, dir: string) {
  const hidden = { schema: { hide: true } };
  const built = existsSync(join(dir, 'index.html'));
  // The router ignores trailing slashes, so this one route answers /console and /console/: the
  // page's relative asset paths need the slash.
  app.get('/console', hidden, async (req, reply) => {
    if (!req.url.split('?')[0]!.endsWith('/')) return reply.redirect('/console/');
    if (!built) return notBuilt(reply);
    return reply.sendFile('index.html');
  });
  const notBuilt = (reply: FastifyReply) =>
    reply
      .code(404)
      .type('text/plain')
      .send(`The console is not built (no ${join(dir, 'index.html')}): run npm run build\n`);
  if (!built) {
    app.get('/console/*', hidden, async (_req, reply) => notBuilt(reply));
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/console/',
    schemaHide: true,
    index: false,
    cacheControl: false,
    // The bundle's file names carry a content hash; index.html must be fetched fresh.
    setHeaders(res, path) {
      res.setHeader('cache-control', path.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
      // Only this origin's scripts and API; the key lives in session storage, so no script from elsewhere may run.
      res.setHeader('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'");
      res.setHeader('x-content-type-options', 'nosniff');
    },
  });
}
