import type { FastifyInstance } from 'fastify';
import { ConfigError, type Config } from '../config/config.js';

/** Listens, turning the common failures into a message that says what to do. */
export async function listenOn(app: FastifyInstance, config: Config): Promise<string> {
  const { host, port } = config.listen;
  try {
    return await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new ConfigError(
        `--listen (GANTRY_LISTEN): ${host}:${port} is already in use (another gantry serve?); choose another port with --listen ${host}:PORT, or port 0 for a free one`,
      );
    if (code === 'EADDRNOTAVAIL') throw new ConfigError(`--listen (GANTRY_LISTEN): ${host} is not an address of this machine`);
    if (code === 'EACCES')
      throw new ConfigError(`--listen (GANTRY_LISTEN): not allowed to listen on port ${port} (ports below 1024 need root); choose another with --listen`);
    throw err;
  }
}
