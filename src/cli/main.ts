import { Command } from 'commander';
import { ConfigError, loadConfig, type Flags } from '../config/config.js';
import { createApiKey } from '../commands/keys.js';
import { VERSION } from '../version.js';
import { openStore } from './runtime-deps.js';
import { serve } from './serve.js';

/** The `gantry` command. Settings come from flags, GANTRY_* variables or a config file (see config/config.ts). */
const program = new Command('gantry').version(VERSION).description('Run containers and models on your own GPUs behind Together AI\'s API');

const withStoreFlags = (cmd: Command) =>
  cmd
    .option('--config <file>', 'JSON config file (GANTRY_CONFIG)')
    .option('--data-dir <dir>', 'data directory (GANTRY_DATA_DIR, default ./.gantry)')
    .option('--database <url>', 'sqlite:PATH or postgres://… (GANTRY_DATABASE_URL, default sqlite under the data dir)');

const flagsOf = (opts: Record<string, string | undefined>): Flags => ({
  config: opts.config,
  dataDir: opts.dataDir,
  databaseUrl: opts.database,
  listen: opts.listen,
  logLevel: opts.logLevel,
  bodyLimit: opts.bodyLimit,
  runtime: opts.runtime,
  gpus: opts.gpus,
  publicUrl: opts.publicUrl,
  holdMax: opts.holdMax,
  holdTimeoutSeconds: opts.holdTimeout,
  scaleDownWindowSeconds: opts.scaleDownWindow,
  idleGraceSeconds: opts.idleGrace,
  dockerHost: opts.dockerHost,
  registryAuth: opts.registryAuth,
  tls: opts.tls,
  tlsCert: opts.tlsCert,
  tlsKey: opts.tlsKey,
});

withStoreFlags(program.command('serve').description('run the Gantry server'))
  .option('--listen <host:port>', 'address to listen on (GANTRY_LISTEN, default 127.0.0.1:8080; port 0 picks one)')
  .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (GANTRY_LOG_LEVEL)')
  .option('--body-limit <bytes>', 'largest accepted request body (GANTRY_BODY_LIMIT, default 1048576)')
  .option('--runtime <kind>', 'where replicas run: process or docker (GANTRY_RUNTIME, default process)')
  .option('--docker-host <url>', 'Docker Engine API for the docker runtime, Podman\'s works too (DOCKER_HOST, default unix:///var/run/docker.sock)')
  .option('--registry-auth <file>', 'Docker-style config.json with registry credentials (GANTRY_REGISTRY_AUTH)')
  .option('--gpus <TYPE:COUNT,…>', 'declare GPUs instead of detecting them with nvidia-smi (GANTRY_GPUS)')
  .option('--hold-max <n>', 'requests the gateway holds per deployment while no replica is ready (GANTRY_HOLD_MAX, default 256)')
  .option('--hold-timeout <seconds>', 'how long the gateway holds a request for a ready replica (GANTRY_HOLD_TIMEOUT, default 120)')
  .option('--scale-down-window <seconds>', 'autoscaler scale-down stabilization window (GANTRY_SCALE_DOWN_WINDOW, default 300)')
  .option('--idle-grace <seconds>', 'idle time before an autoscaled deployment with min_replicas 0 goes to zero (GANTRY_IDLE_GRACE, default 300)')
  .option('--public-url <url>', 'this server as replicas reach it (GANTRY_PUBLIC_URL; default the listen address)')
  .option('--tls <mode>', 'self-signed: serve HTTPS with a certificate for localhost and 127.0.0.1 made in the data dir (GANTRY_TLS)')
  .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); needs --tls-key (GANTRY_TLS_CERT)')
  .option('--tls-key <file>', 'the PEM private key of --tls-cert (GANTRY_TLS_KEY)')
  .action(async (opts) => serve(loadConfig(flagsOf(opts), process.env)));

const keys = program.command('keys').description('manage API keys in the same data dir or database');

withStoreFlags(keys.command('create').description('create an API key for a project (created if new)'))
  .requiredOption('--project <name>', 'project the key belongs to')
  .option('--label <text>', 'a note to recognise the key by')
  .action(async (opts) => {
    const deps = await openStore(loadConfig(flagsOf(opts), process.env));
    const created = await createApiKey(deps, opts.project, { label: opts.label });
    process.stdout.write(`created key ${created.id} for project ${created.project}:\n${created.key}\n`);
    await deps.store.close();
  });

withStoreFlags(keys.command('list').description('list API keys (never their values)')).action(async (opts) => {
  const deps = await openStore(loadConfig(flagsOf(opts), process.env));
  for (const k of await deps.store.listApiKeys()) {
    const state = k.revoked_at ? `revoked ${k.revoked_at}` : 'active';
    process.stdout.write(`${k.id}\t${k.project_name}\t${k.prefix}…\t${state}\t${k.label}\n`);
  }
  await deps.store.close();
});

withStoreFlags(keys.command('revoke').description('revoke an API key').argument('<id>', 'key id')).action(async (id: string, opts) => {
  const deps = await openStore(loadConfig(flagsOf(opts), process.env));
  const ok = await deps.store.revokeApiKey(id, deps.clock.now().toISOString());
  await deps.store.close();
  if (!ok) {
    process.stderr.write(`no active key with id ${id}\n`);
    process.exitCode = 1;
  } else process.stdout.write(`revoked ${id}\n`);
});

program.parseAsync().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`gantry: invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`gantry: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
