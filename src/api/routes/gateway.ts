import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Pool, errors as undiciErrors } from 'undici';
import { GantryError, errors } from '../../contract/errors.js';
import { callerOf } from '../auth.js';
import type { CommandContext } from '../../commands/context.js';
import type { Metrics } from '../../metrics/http-metrics.js';
import type { RoutingTable, Upstream } from '../../gateway/routing-table.js';
import { inferenceRoutes, type InferenceOptions, type Target } from './inference.js';
import type { Traffic } from '../../gateway/traffic.js';
import { HOP_BY_HOP, forward } from '../../gateway/forward.js';
import { routeUpgrades, tunnel, upgradeOf } from '../../gateway/upgrade.js';

export interface GatewayTimeouts {
  /** To open a connection to a replica. */
  connectMs: number;
  /** From the request sent to the response's headers (time to first byte). */
  firstByteMs: number;
  /** Longest silence between two chunks of the response body (0: none). */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: GatewayTimeouts = { connectMs: 5_000, firstByteMs: 300_000, idleMs: 300_000 };

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
  /** OpenAI-compatible inference on dedicated endpoints. */
  inference?: InferenceOptions;
}

/**
 * `ANY /v1/deployment-request/{name}/{path…}`: forwards to a ready replica of the caller's
 * deployment, prefix stripped, query kept, bodies streamed both ways (Server-Sent Events pass
 * as they come), protocol upgrades (WebSocket) tunnelled. The caller's key stays here. `x-gantry-replica` names the replica that served.
 */
export async function gatewayRoutes(app: FastifyInstance, deps: GatewayDeps) {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...deps.timeouts };
  const pools = new Pools(timeouts);
  app.addHook('onClose', () => pools.close());
  // Bodies are not parsed: the request stream itself goes to the replica.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));
  routeUpgrades(app);

  /** A deployment the controller has not reported yet (just created, or Gantry just started): the store says whether it exists. */
  const firstSight = async (projectId: string, name: string) => {
    const id = await deps.ctx.store.findDeploymentIdByName(projectId, name);
    if (!id) throw errors.notFound('Deployment', name);
    return deps.table.ensure(projectId, name, id);
  };

  /** Finds the caller's deployment by name (404 if there is none). */
  const targetOf = async (projectId: string, name: string): Promise<Target> => ({
    name,
    route: deps.table.lookup(projectId, name) ?? (await firstSight(projectId, name)),
  });

  /**
   * Forwards the request to a ready replica of the route's deployment, at `path` on the
   * replica. The body is the request stream itself, or `buffered` when a route had to read it
   * (inference reads `model` from it).
   */
  const proxy = async (req: FastifyRequest, reply: FastifyReply, target: Target, path: string, buffered?: Buffer) => {
    const { route, name } = target;
    const { deploymentId } = route;
    const started = performance.now();
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers['x-forwarded-for'] = req.ip;
    const upgrade = upgradeOf(req.raw);
    const sized = req.headers['content-length'] !== undefined;
    const hasBody = buffered !== undefined || (!upgrade && (sized ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined));
    if (buffered !== undefined) {
      delete headers['transfer-encoding'];
      headers['content-length'] = String(buffered.length);
    }

    // A client that leaves gives up its place in the hold queue and its request upstream.
    // (The response's close, not the request's: that one fires once its body has been read.)
    const gone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
      // By project too: two projects' deployments of one name are two series.
      const project = callerOf(req).projectName;
      deps.metrics.gatewayRequests.inc({ project, deployment: name, status: String(reply.statusCode) });
      deps.metrics.gatewayDuration.observe({ project, deployment: name }, (performance.now() - started) / 1000);
    });

    const finished = (u: Upstream) => {
      deps.table.release(u);
      deps.traffic.finished(deploymentId, performance.now() - started);
    };
    /**
     * Takes a replica (held while none is ready) and forwards; once the response head is
     * written the reply is Gantry's no longer (hijacked) and the replica is given back when the
     * response ends. A failure before the head gives the replica back at once.
     */
    const attempt = async (exclude?: string) => {
      const upstream = await deps.table.acquire(route, gone.signal, exclude);
      deps.traffic.started(deploymentId);
      const outgoing = { method: req.method, path, headers, body: buffered ?? (hasBody ? req.raw : null), signal: gone.signal };
      const pool = pools.get(upstream.address);
      try {
        if (upgrade) {
          const protocol = req.headers.upgrade ?? 'websocket';
          const opened = () => {
            reply.hijack();
            reply.raw.statusCode = 101;
          };
          await tunnel(pool, { ...outgoing, protocol }, upgrade, { 'x-gantry-replica': upstream.replicaId }, opened, () => finished(upstream));
          return;
        }
        await forward(pool, outgoing, reply.raw, () => {
          reply.hijack();
          reply.raw.setHeader('x-gantry-replica', upstream.replicaId);
          reply.raw.once('close', () => finished(upstream));
        });
      } catch (err) {
        finished(upstream);
        throw Object.assign(err as Error, { replicaId: upstream.replicaId });
      }
    };
    try {
      await attempt();
    } catch (err) {
      // Refused before a byte was sent (the replica just stopped): once more, on another replica
      // (a streamed body can only be sent once).
      if (!refused(err) || (buffered === undefined && hasBody && req.raw.readableDidRead)) throw upstreamError(err, timeouts);
      await attempt((err as { replicaId: string }).replicaId).catch((again: unknown) => {
        throw upstreamError(again, timeouts);
      });
    }
  };

  const handler = async (req: FastifyRequest<{ Params: { name: string; '*'?: string } }>, reply: FastifyReply) => {
    const target = await targetOf(callerOf(req).projectId, req.params.name);
    await proxy(req, reply, target, forwardedTarget(req.raw.url ?? '/'));
  };

  const schema = { hide: true };
  app.all('/deployment-request/:name', { schema }, handler);
  app.all('/deployment-request/:name/*', { schema }, handler);
  if (deps.inference) inferenceRoutes(app, { ...deps.inference, targetOf, proxy });
}

/**
 * The request target a replica gets: what the client sent after `/v1/deployment-request/<name>`,
 * byte for byte (percent-encoding, `..`, a trailing slash and the query as received), so a
 * replica sees exactly the path its client asked for and Gantry never decodes one into another.
 */
function forwardedTarget(rawUrl: string): string {
  const afterName = rawUrl.replace(/^\/v1\/deployment-request\/[^/?]*/, '');
  return afterName.startsWith('/') ? afterName : `/${afterName}`;
}

function refused(err: unknown) {
  const code = (err as { code?: string }).code;
  return code === 'ECONNREFUSED';
}

function upstreamError(err: unknown, t: GatewayTimeouts) {
  if (err instanceof GantryError) return err; // held past the bounds: already the answer
  if (err instanceof undiciErrors.ConnectTimeoutError) return errors.gatewayTimeout(`the replica did not accept a connection within ${t.connectMs} ms`);
  if (err instanceof undiciErrors.HeadersTimeoutError) return errors.gatewayTimeout(`the replica sent no response within ${t.firstByteMs} ms`);
  if (err instanceof undiciErrors.RequestAbortedError) return err;
  return errors.badGateway(`the replica could not be reached: ${(err as Error).message}`);
}
