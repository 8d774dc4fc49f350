import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { ApiError, errors } from '../api/errors.js';
import { callerOf } from '../api/auth.js';
import type { CommandContext } from '../commands/context.js';
import type { Metrics } from '../metrics/http-metrics.js';
import type { RoutingTable, Upstream } from './routing-table.js';
import type { Traffic } from './traffic.js';

export interface GatewayTimeouts {
  /** To open a connection to a replica. */
  connectMs: number;
  /** From the request sent to the response's headers (time to first byte). */
  firstByteMs: number;
  /** Longest silence between two chunks of the response body (0: none). */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: GatewayTimeouts = { connectMs: 5_000, firstByteMs: 300_000, idleMs: 300_000 };

/** Headers that describe one hop, not the message (RFC 9110 §7.6.1), and the caller's key. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization']);

/** One keep-alive connection pool per replica address. */
class Pools {
  private readonly pools = new Map<string, Pool>();
  constructor(private readonly t: GatewayTimeouts) {}

  get(address: string): Pool {
    let pool = this.pools.get(address);
    if (!pool) {
      pool = new Pool(`http://${address}`, {
        connections: 256,
        connectTimeout: this.t.connectMs,
        headersTimeout: this.t.firstByteMs,
        bodyTimeout: this.t.idleMs,
        keepAliveTimeout: 30_000,
      });
      this.pools.set(address, pool);
    }
    return pool;
  }

  async close() {
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
  }
}

export interface GatewayDeps {
  ctx: CommandContext;
  table: RoutingTable;
  traffic: Traffic;
  metrics: Metrics;
  timeouts?: Partial<GatewayTimeouts>;
}

/**
 * `ANY /v1/deployment-request/{name}/{path…}`: forwards to a ready replica of the caller's
 * deployment, prefix stripped, query kept, bodies streamed both ways (Server-Sent Events pass
 * as they come). The caller's key stays here. `x-gantry-replica` names the replica that served.
 */
export async function gatewayRoutes(app: FastifyInstance, deps: GatewayDeps) {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...deps.timeouts };
  const pools = new Pools(timeouts);
  app.addHook('onClose', () => pools.close());
  // Bodies are not parsed: the request stream itself goes to the replica.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  /** A deployment the controller has not reported yet (just created, or Gantry just started): the store says whether it exists. */
  const firstSight = async (projectId: string, name: string) => {
    const d = await deps.ctx.store.findDeployment(projectId, name);
    if (!d || d.name !== name) throw errors.notFound('Deployment', name);
    return deps.table.ensure(projectId, name, d.id);
  };

  const handler = async (req: FastifyRequest<{ Params: { name: string; '*'?: string } }>, reply: FastifyReply) => {
    const caller = callerOf(req);
    const { name } = req.params;
    const route = deps.table.lookup(caller.projectId, name) ?? (await firstSight(caller.projectId, name));
    const deploymentId = route.deploymentId;
    const started = performance.now();
    const query = req.url.indexOf('?');
    const path = `/${req.params['*'] ?? ''}${query >= 0 ? req.url.slice(query) : ''}`;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers['x-forwarded-for'] = req.ip;
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;

    // A client that leaves gives up its place in the hold queue and its request upstream.
    // (The response's close, not the request's: that one fires once its body has been read.)
    const gone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
      deps.metrics.gatewayRequests.inc({ deployment: name, status: String(reply.statusCode) });
      deps.metrics.gatewayDuration.observe({ deployment: name }, (performance.now() - started) / 1000);
    });

    const finished = (u: Upstream) => {
      deps.table.release(u);
      deps.traffic.finished(deploymentId, performance.now() - started);
    };
    /** Takes a replica (held while none is ready) and sends; a failure gives the replica back. */
    const attempt = async (exclude?: string) => {
      const upstream = await deps.table.acquire(route, gone.signal, exclude);
      deps.traffic.started(deploymentId);
      try {
        return { upstream, res: await send(pools.get(upstream.address), req, path, headers, hasBody, gone.signal) };
      } catch (err) {
        finished(upstream);
        throw Object.assign(err as Error, { replicaId: upstream.replicaId });
      }
    };
    let sent: Awaited<ReturnType<typeof attempt>>;
    try {
      sent = await attempt();
    } catch (err) {
      // Refused before a byte was sent (the replica just stopped): once more, on another replica.
      if (!refused(err) || (hasBody && req.raw.readableDidRead)) throw upstreamError(err, timeouts);
      sent = await attempt((err as { replicaId: string }).replicaId).catch((again: unknown) => {
        throw upstreamError(again, timeouts);
      });
    }
    const { upstream, res } = sent;
    res.body.once('close', () => finished(upstream));
    reply.status(res.statusCode);
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) reply.header(k, v);
    reply.header('x-gantry-replica', upstream.replicaId);
    return reply.send(res.body);
  };

  const schema = { hide: true };
  app.all('/deployment-request/:name', { schema }, handler);
  app.all('/deployment-request/:name/*', { schema }, handler);
}

function send(pool: Pool, req: FastifyRequest, path: string, headers: Record<string, string | string[]>, hasBody: boolean, signal: AbortSignal) {
  return pool.request({
    method: req.method as Dispatcher.HttpMethod,
    path,
    headers,
    body: hasBody ? req.raw : null,
    signal,
  });
}

function refused(err: unknown) {
  const code = (err as { code?: string }).code;
  return code === 'ECONNREFUSED';
}

function upstreamError(err: unknown, t: GatewayTimeouts) {
  if (err instanceof ApiError) return err; // held past the bounds: already the answer
  if (err instanceof undiciErrors.ConnectTimeoutError) return errors.gatewayTimeout(`the replica did not accept a connection within ${t.connectMs} ms`);
  if (err instanceof undiciErrors.HeadersTimeoutError) return errors.gatewayTimeout(`the replica sent no response within ${t.firstByteMs} ms`);
  if (err instanceof undiciErrors.RequestAbortedError) return err;
  return errors.badGateway(`the replica could not be reached: ${(err as Error).message}`);
}
