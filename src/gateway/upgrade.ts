import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Dispatcher } from 'undici';
import { HOP_BY_HOP, type Outgoing } from './forward.js';

/** The client's socket of a request that asks for a protocol upgrade (WebSocket). */
const upgrades = new WeakMap<IncomingMessage, { socket: Duplex; head: Buffer }>();

/**
 * Routes HTTP upgrade requests (WebSocket) through Fastify like any other request, so they are
 * authenticated, looked up and answered with errors in the API's shape by the same code; the
 * route handler then finds the client's socket with `upgradeOf`. (This is how
 * @fastify/websocket hands upgrades to routes.)
 */
export function routeUpgrades(app: FastifyInstance) {
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades.set(req, { socket, head });
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    // Answered without an upgrade (an error, or a route that does not upgrade): nothing more
    // can be said on this connection.
    res.once('finish', () => socket.end());
    app.routing(req, res);
  });
}

export function upgradeOf(req: IncomingMessage) {
  return upgrades.get(req);
}

/**
 * Opens the upgraded connection to the replica and, once it has agreed (101), splices the two
 * sockets together. Rejects, leaving the client's socket untouched, if the replica cannot be
 * reached or refuses the upgrade. `onOpen` runs when the tunnel is up; `onClose` when either
 * side closes it.
 */
export async function tunnel(
  dispatcher: Dispatcher,
  req: Outgoing & { protocol: string },
  client: { socket: Duplex; head: Buffer },
  extraHeaders: Record<string, string>,
  onOpen: () => void,
  onClose: () => void,
) {
  const { headers, socket: upstream } = await dispatcher.upgrade({
    path: req.path,
    method: req.method,
    headers: req.headers,
    protocol: req.protocol,
    signal: req.signal,
  });
  onOpen();
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', `Upgrade: ${req.protocol}`];
  for (const [k, v] of Object.entries({ ...headers, ...extraHeaders })) {
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  }
  client.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (client.head.length) upstream.write(client.head);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    client.socket.destroy();
    upstream.destroy();
    onClose();
  };
  for (const s of [client.socket, upstream]) s.once('close', close).on('error', close);
  client.socket.pipe(upstream);
  upstream.pipe(client.socket);
}
