import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';

/** The Engine API version spoken; Docker 20.10+ and Podman 4+ serve it. */
const API = '/v1.41';

export class DockerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `unix:///run/docker.sock` or `tcp://host:2375` (DOCKER_HOST's forms) as an undici target. */
export function parseDockerHost(host: string): { origin: string; socketPath?: string } {
  if (host.startsWith('unix://')) return { origin: 'http://docker', socketPath: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { origin: 'http://docker', socketPath: host };
  const m = /^(?:tcp|http):\/\/([^/]+)\/?$/.exec(host);
  if (m) return { origin: `http://${m[1]}` };
  throw new Error(`DOCKER_HOST '${host}' is not unix:///path or tcp://host:port`);
}

type Query = Record<string, string | number | boolean | undefined>;

interface CallOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Waits as long as the engine takes (a container's exit); other calls time out. */
  long?: boolean;
}

/** How long an ordinary call may take before the engine counts as unresponsive. */
const CALL_TIMEOUT_MS = 60_000;

/**
 * The few Docker Engine API calls Gantry needs, over a unix socket or TCP. Podman's
 * Docker-compatible service answers the same calls. Errors carry the engine's message.
 */
export class DockerApi {
  private readonly agent: Agent;
  private readonly origin: string;

  constructor(readonly host: string) {
    const target = parseDockerHost(host);
    this.origin = target.origin;
    this.agent = new Agent(target.socketPath ? { connect: { socketPath: target.socketPath } } : {});
  }

  /** A call answering JSON (or nothing); statuses in `ok` are not errors. */
  async call<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, opts: CallOptions = {}, ok: number[] = []): Promise<{ status: number; body: T }> {
    const res = await this.send(method, path, opts);
    const text = await res.body.text();
    if (res.statusCode >= 400 && !ok.includes(res.statusCode)) throw new DockerError(res.statusCode, errorMessage(text, res.statusCode));
    return { status: res.statusCode, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** A call answering a stream (logs, pull progress) for as long as it lasts; the caller reads and ends it. */
  async stream(method: 'GET' | 'POST', path: string, opts: CallOptions = {}): Promise<Readable> {
    const res = await this.send(method, path, { ...opts, long: true });
    if (res.statusCode >= 400) throw new DockerError(res.statusCode, errorMessage(await res.body.text(), res.statusCode));
    return res.body;
  }

  async close() {
    await this.agent.destroy();
  }

  private async send(method: string, path: string, opts: CallOptions) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const url = `${this.origin}${API}${path}${qs.size ? `?${qs}` : ''}`;
    try {
      return await request(url, {
        method: method as 'GET',
        dispatcher: this.agent,
        headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : null,
        signal: opts.signal,
        // Waits and log follows last as long as the container runs; streams send headers at once.
        headersTimeout: opts.long ? 0 : CALL_TIMEOUT_MS,
        bodyTimeout: opts.long ? 0 : CALL_TIMEOUT_MS,
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new DockerError(0, `cannot reach the container engine at ${this.host}: ${(err as Error).message}`);
    }
  }
}

function errorMessage(text: string, status: number) {
  try {
    const parsed = JSON.parse(text) as { message?: string };
    if (parsed.message) return parsed.message;
  } catch {
    // not JSON: use the text itself
  }
  return text.trim() || `HTTP ${status}`;
}
