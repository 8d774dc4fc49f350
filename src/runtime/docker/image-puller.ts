import { readFileSync } from 'node:fs';
import { registryOf } from '../../domain/image-ref.js';
import { StartError } from '../replica.js';
import { DockerError, type DockerApi } from './docker-api.js';

/** Credentials per registry host, as in Docker's config.json (`auths`). */
export type RegistryAuths = Record<string, { username: string; password: string }>;

/**
 * Reads a Docker-style config.json: `{"auths": {"registry:5000": {"auth": base64("user:pass")}}}`
 * (or `username` and `password` instead of `auth`).
 */
export function loadRegistryAuths(path: string): RegistryAuths {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  const out: RegistryAuths = {};
  for (const [host, entry] of Object.entries(parsed.auths ?? {})) {
    if (entry.auth) {
      const text = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = text.indexOf(':');
      if (colon < 0) throw new Error(`${path}: auths["${host}"].auth is not base64 of user:password`);
      out[host] = { username: text.slice(0, colon), password: text.slice(colon + 1) };
    } else if (entry.username !== undefined && entry.password !== undefined) {
      out[host] = { username: entry.username, password: entry.password };
    }
  }
  return out;
}

/**
 * X-Registry-Auth: base64url of the JSON, with its padding. Docker decodes it either way;
 * Podman's compatible API reads unpadded base64url as a truncated body ("unexpected EOF").
 */
function registryAuthHeader(auth: Record<string, string>): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * Pulls images that are not present yet (Kubernetes' IfNotPresent), once at a time per image,
 * with the registry's credentials. A failed pull is a StartError (ErrImagePull) that the
 * replica retries with backoff.
 */
export class ImagePuller {
  private readonly pulls = new Map<string, Promise<void>>();

  constructor(
    private readonly api: DockerApi,
    private readonly auths: RegistryAuths = {},
  ) {}

  /** `credentials`, when given, are used for the image's registry instead of the configured ones. */
  ensure(image: string, credentials?: { username: string; password: string }): Promise<void> {
    let p = this.pulls.get(image);
    if (!p) {
      p = this.pullIfMissing(image, credentials).finally(() => this.pulls.delete(image));
      this.pulls.set(image, p);
    }
    return p;
  }

  private async pullIfMissing(image: string, credentials?: { username: string; password: string }) {
    const present = await this.api.call('GET', `/images/${encodeURIComponent(image)}/json`, {}, [404]);
    if (present.status === 200) return;
    const registry = registryOf(image);
    const auth = credentials ?? this.auths[registry] ?? (registry === 'docker.io' ? this.auths['https://index.docker.io/v1/'] : undefined);
    const headers: Record<string, string> = auth ? { 'x-registry-auth': registryAuthHeader({ ...auth, serveraddress: registry }) } : {};
    let failure: string | null = null;
    try {
      // The answer is a stream of JSON progress lines; a failure is a line with `error`, even on a 200.
      const stream = await this.api.stream('POST', '/images/create', { query: { fromImage: image }, headers });
      let text = '';
      for await (const chunk of stream) text += chunk;
      for (const line of text.split('\n').filter(Boolean)) {
        try {
          const event = JSON.parse(line) as { error?: string };
          if (event.error) failure = event.error;
        } catch {
          // progress output that is not JSON: ignore
        }
      }
    } catch (err) {
      if (!(err instanceof DockerError)) throw err;
      failure = err.message;
    }
    if (failure !== null) throw new StartError('ErrImagePull', `cannot pull image ${image}: ${failure}`);
  }
}
