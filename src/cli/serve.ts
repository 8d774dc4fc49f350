import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../app.js';
import type { Config } from '../config/config.js';
import { ensureAdminKey } from '../commands/keys.js';
import { NOTHING_OBSERVED } from '../domain/deployment.js';
import { loadSecretBox, openStore } from './runtime-deps.js';

export async function serve(config: Config) {
  const deps = await openStore(config);
  const secretBox = loadSecretBox(config);
  const admin = await ensureAdminKey(deps, config.adminKey);
  if (admin.created && !config.adminKey) {
    const path = join(config.dataDir, 'admin.key');
    writeFileSync(path, admin.created.key + '\n', { mode: 0o600 });
    process.stdout.write(`admin key for project "default" (shown once, also saved to ${path}): ${admin.created.key}\n`);
  }

  const app = await buildApp({
    ctx: { ...deps, secretBox, observer: { observe: () => NOTHING_OBSERVED } },
    bodyLimit: config.bodyLimit,
    logLevel: config.logLevel,
  });
  const address = await app.listen({ host: config.listen.host, port: config.listen.port });
  process.stdout.write(`listening on ${address}\n`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    await app.close();
    await deps.store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
