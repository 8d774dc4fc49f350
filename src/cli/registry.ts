import { join } from 'node:path';
import type { RegistryDeps } from '../api/routes/registry.js';
import { ConfigError, type Config } from '../config/config.js';
import type { Clock } from '../domain/clock.js';
import type { IdSource } from '../domain/ids.js';
import { findRegistryBinary, RegistryProcess } from '../registry/registry-process.js';
import { RegistryTokens } from '../registry/registry-tokens.js';

/**
 * Gantry's image registry for `gantry serve`: the token signer at once (the API serves its
 * token endpoint), the registry process once the API listens (its challenge names the API's
 * token URL). `--registry HOST:PORT` must start or Gantry stops; the default (`auto`) runs it
 * when the binary is installed and says why not otherwise.
 */
export class GantryRegistry {
  private process: RegistryProcess | null = null;

  private constructor(
    private readonly config: Config,
    private readonly tokens: RegistryTokens,
  ) {}

  static async open(config: Config, clock: Clock, ids: IdSource): Promise<GantryRegistry | null> {
    if (config.registry.mode === 'off') return null;
    return new GantryRegistry(config, await RegistryTokens.open(join(config.dataDir, 'registry'), clock, ids));
  }

  /** What the API needs: the token signer and, once running, the registry's address. */
  deps(publicUrl: () => string): RegistryDeps {
    return { tokens: this.tokens, host: () => (this.process ? this.advertised(publicUrl()) : undefined) };
  }

  /** Starts the registry process; answers the host images name it by, or undefined if it does not run. */
  async start(apiBaseUrl: string, clock: Clock, ids: IdSource, log: (msg: string) => void): Promise<string | undefined> {
    const r = this.config.registry;
    if (r.mode === 'off') return undefined;
    const fail = (why: string) => {
      if (r.mode === 'on') throw new ConfigError(`--registry (GANTRY_REGISTRY): ${why}`);
      process.stdout.write(`image registry: off (${why}; --registry off silences this)\n`);
      return undefined;
    };
    const binary = findRegistryBinary();
    if (!binary) return fail('docker-registry is not installed (Debian: apt-get install docker-registry)');
    try {
      this.process = await RegistryProcess.start({
        binary,
        dir: join(this.config.dataDir, 'registry'),
        host: r.host,
        port: r.port,
        auth: this.tokens.authConfig(`${apiBaseUrl}/v1/registry/token`),
        httpSecret: ids.hex(32),
        clock,
        log,
      });
    } catch (err) {
      return fail((err as Error).message);
    }
    const host = this.advertised(apiBaseUrl);
    process.stdout.write(`image registry: ${host} (docker login ${host} with an API key as password)\n`);
    return host;
  }

  async stop() {
    await this.process?.stop();
  }

  /** A registry on every interface is reached by the public URL's host. */
  private advertised(apiBaseUrl: string) {
    const { host, port } = this.config.registry as { host: string; port: number };
    const reachable = host === '0.0.0.0' || host === '::' ? new URL(apiBaseUrl).hostname : host;
    return `${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
  }
}
