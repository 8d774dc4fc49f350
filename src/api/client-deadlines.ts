import type { FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';
import type { Clock } from '../domain/clock.js';
import { errors } from '../contract/errors.js';
import { writeRawError } from './error-handler.js';

/** The slowest a request body may arrive, averaged over each window (as Kestrel's MinRequestBodyDataRate). */
const MIN_BODY_BYTES_PER_SECOND = 1024;
const WINDOW_MS = 10_000;
/** How long a client has to send the whole header block (Node's default is 60 s). */
const HEADERS_TIMEOUT_MS = 15_000;

/**
 * Bounds how long a client may hold a connection without sending a request: a new connection
 * sends its headers within 15 s (a connection that sends nothing is closed then too: Node's
 * headers timeout starts only with the first byte), and a body keeps arriving at 1 KiB/s at
 * least over every 10 s window (a big upload at a normal pace is never cut; a client trickling a
 * byte now and then is, with a 408 in the API's shape). Idle keep-alive connections between
 * requests are Node's keepAliveTimeout's. Without this, 10,000 silent connections stayed open for
 * good and a trickling client held its socket for the server's five-minute request timeout.
 */
export function installClientDeadlines(app: FastifyInstance, clock: Clock) {
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  app.server.on('connection', (socket: Socket) => socket.setTimeout(HEADERS_TIMEOUT_MS, () => socket.destroy()));
  // Once a request arrives, Node manages the socket's timeout itself (none while a request runs, keepAliveTimeout after).
  app.server.on('request', (req) => req.socket.setTimeout(0));
  // A WebSocket tunnel (the gateway's) is the replica's to keep open.
  app.server.on('upgrade', (req) => req.socket.setTimeout(0));
  app.addHook('onRequest', (req, _reply, done) => {
    const raw = req.raw;
    const hasBody = Number(raw.headers['content-length'] ?? 0) > 0 || raw.headers['transfer-encoding'] !== undefined;
    if (!hasBody || raw.complete) return done();
    const socket: Socket = raw.socket;
    let seen = socket.bytesRead;
    const timer = clock.setInterval(() => {
      if (raw.complete || socket.destroyed) return timer.cancel();
      const now = socket.bytesRead;
      if (now - seen < (MIN_BODY_BYTES_PER_SECOND * WINDOW_MS) / 1000) {
        timer.cancel();
        writeRawError(socket, errors.requestTimeout());
        return;
      }
      seen = now;
    }, WINDOW_MS);
    raw.once('close', () => timer.cancel());
    done();
  });
}
