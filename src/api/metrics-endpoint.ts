import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { errors } from '../contract/errors.js';
import type { Metrics } from '../metrics/http-metrics.js';

/** Whether a request may read /metrics: any, or only the bearer of the operator's token (`--metrics-token`). */
function allowed(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  const a = Buffer.from(authorization ?? '');
  const b = Buffer.from(`Bearer ${token}`);
  return a.length === b.length && timingSafeEqual(a, b);
}

const REFUSED = () => errors.unauthenticated('/metrics needs the operator\'s metrics token (--metrics-token) as "Authorization: Bearer <token>"');

/** `GET /metrics` on the API's own address. Series are labelled by project and deployment: with a token set, only the operator's scraper reads them. */
export function metricsRoute(app: FastifyInstance, metrics: Metrics, token: string | undefined) {
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (!allowed(req.headers.authorization, token)) throw REFUSED();
    reply.header('content-type', metrics.registry.contentType);
    return metrics.text();
  });
}

/**
 * `GET /metrics` on an address of its own (`--metrics-listen`), e.g. a private network only the
 * scraper reaches; everything else there is a 404. The API's address then has no /metrics.
 */
export async function listenForMetrics(
  metrics: Metrics,
  token: string | undefined,
  at: { host: string; port: number },
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const send = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') return send(404, 'text/plain', 'only GET /metrics is served here\n');
    if (!allowed(req.headers.authorization, token)) return send(401, 'application/json', JSON.stringify(REFUSED().toBody()));
    metrics.text().then(
      (text) => send(200, metrics.registry.contentType, text),
      (err: Error) => send(500, 'text/plain', `${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(at.port, at.host, () => resolve()));
  const { port } = server.address() as { port: number };
  return { server, url: `http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${port}` };
}
