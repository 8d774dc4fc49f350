import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/** Headers that describe one hop, not the message (RFC 9110 §7.6.1), and the caller's key. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
]);

export interface Outgoing {
  method: string;
  /** Path and query on the replica. */
  path: string;
  headers: Record<string, string | string[]>;
  /** The request's own stream, or its bytes when they had to be read first. */
  body: Readable | Buffer | null;
  /** Aborts the exchange (the client went away). */
  signal: AbortSignal;
}

/**
 * Sends one request to a replica through undici's dispatcher and writes the response straight
 * into `out`: no intermediate stream per request, which is what a Readable body plus a pipe
 * would cost on every proxied request. Resolves once the response head has been written
 * (`onHead` runs just before, to claim `out` and add headers); rejects if the exchange fails
 * before that, leaving `out` untouched so the caller can still answer with an error. A failure
 * after the head can only cut the response short.
 */
export function forward(dispatcher: Dispatcher, req: Outgoing, out: ServerResponse, onHead: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let headSent = false;
    let flush: NodeJS.Immediate | undefined;
    dispatcher.dispatch(
      { method: req.method as Dispatcher.HttpMethod, path: req.path, headers: req.headers, body: req.body },
      {
        onRequestStart(controller) {
          if (req.signal.aborted) return controller.abort(req.signal.reason);
          req.signal.addEventListener('abort', () => controller.abort(req.signal.reason), { once: true });
        },
        onResponseStart(_controller, statusCode, headers) {
          if (statusCode < 200) return; // 1xx: informational, the final head follows
          onHead();
          out.statusCode = statusCode;
          for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out.setHeader(k, v);
          // The head goes out with the first chunk of the body, in one write. A body that is slow
          // to start (a stream, SSE) must not hold the head back: if no chunk came with the
          // head, it goes on its own.
          flush = setImmediate(() => out.flushHeaders());
          headSent = true;
          resolve();
        },
        onResponseData(controller, chunk) {
          clearImmediate(flush);
          // Back-pressure: a slow client pauses the replica's socket instead of buffering here.
          if (!out.write(chunk)) {
            controller.pause();
            out.once('drain', () => controller.resume());
          }
        },
        onResponseEnd() {
          clearImmediate(flush);
          out.end();
        },
        onResponseError(_controller, err) {
          clearImmediate(flush);
          if (headSent) out.destroy(err);
          else reject(err);
        },
      },
    );
  });
}
