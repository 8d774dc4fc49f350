import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type Flags } from '../config/config.js';
import { SETTINGS, type SettingName } from '../config/settings-table.js';
import { createApiKey, PROJECT_NAME_RULE, validProjectName } from '../commands/keys.js';
import { VERSION } from '../version.js';
import { autoscaleSimulate } from './autoscale-simulate.js';
import { doctor } from './doctor.js';
import { openStore, rotateSecretKey } from './runtime-deps.js';
import { serve } from './serve.js';

/** The `gantry` command. Its options are generated from the settings table in config/config.ts. */
const program = new Command('gantry').version(VERSION).description("Run containers and models on your own GPUs behind Together AI's API");

/** Adds the settings of these scopes as options, each with its variable in the help. */
function withSettings(cmd: Command, scopes: ('store' | 'serve')[]): Command {
  cmd.option('--config <file>', 'JSON config file (GANTRY_CONFIG)');
  for (const s of Object.values(SETTINGS)) {
    if (!scopes.includes(s.scope)) continue;
    // A setting that is on or off is a bare flag (`--demo`), as well as `--demo off`.
    const arg = s.arg === 'on|off' ? '[on|off]' : `<${s.arg}>`;
    cmd.addOption(new Option(`${s.flag} ${arg}`, `${s.help} (${s.env})`));
  }
  return cmd;
}

/** Commander's parsed options, by setting name. */
function flagsOf(cmd: Command): Flags {
  const opts = cmd.opts<Record<string, string | true | undefined>>();
  const flags: Flags = { config: opts.config as string | undefined };
  for (const [name, s] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    const value = opts[new Option(s.flag).attributeName()];
    if (value !== undefined) flags[name] = value === true ? 'on' : value;
  }
  return flags;
}

withSettings(program.command('serve').description('run the Gantry server'), ['store', 'serve']).action(async (_opts, cmd: Command) =>
  serve(loadConfig(flagsOf(cmd), process.env)),
);

program
  .command('doctor')
  .description('check this machine for what each runtime needs, and say what to install or set')
  .option('--docker-host <url>', 'the Docker Engine API to check (DOCKER_HOST)')
  .option('--database <url>', 'a postgres:// URL to check (GANTRY_DATABASE_URL)')
  .action(async (opts) => {
    process.exitCode = await doctor(
      { dockerHost: opts.dockerHost ?? process.env.DOCKER_HOST, databaseUrl: opts.database ?? process.env.GANTRY_DATABASE_URL },
      (line) => process.stdout.write(line + '\n'),
    );
  });

program
  .command('autoscale')
  .description('autoscaling tools')
  .command('simulate')
  .description("replay a recorded trace against Gantry's autoscaler on a simulated clock, for each policy: wait, rejected requests, replica-seconds, GPU cost")
  .requiredOption(
    '--trace <file>',
    "requests in the Azure LLM trace format (CSV: TIMESTAMP,ContextTokens,GeneratedTokens), or a deployment's own history (the JSON of GET /v1/deployments/{id}/metrics)",
  )
  .requiredOption('--deployment-spec <file>', 'a deployment as JSON (min_replicas, max_replicas, gpu_type, gpu_count, autoscaling) with a "simulation" object')
  .option(
    '--policy <policy>',
    'spec, fixed:N, fixed:peak or METRIC:TARGET[:WINDOW_MINUTES]; repeat for several (default: spec and fixed:peak)',
    (v: string, all: string[]) => [...all, v],
    [],
  )
  .option('--compress <n>', "divide the trace's times (and the spec's durations) by n", '1')
  .option('--chart <file.svg>', 'write the results as an SVG chart')
  .option('--json', 'print the results as JSON')
  .action(async (opts: { trace: string; deploymentSpec: string; policy: string[]; compress: string; chart?: string; json?: boolean }) => {
    await autoscaleSimulate({ ...opts, compress: Number(opts.compress) }, (line) => process.stdout.write(line + '\n'));
  });

const keys = program.command('keys').description('manage API keys in the same data dir or database');

/** The store of an existing Gantry: a SQLite file that is not there is a mistyped --data-dir, not a new database. */
async function existingStore(cmd: Command) {
  const config = loadConfig(flagsOf(cmd), process.env);
  const path = config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl.slice('sqlite:'.length) : null;
  if (path && !existsSync(path)) {
    throw new ConfigError(
      `no Gantry database at ${path}: run \`gantry serve\` once with this --data-dir (or --database) first, or point --data-dir at the folder it uses`,
    );
  }
  return openStore(config);
}

withSettings(keys.command('create').description('create an API key for a project (created if new)'), ['store'])
  .requiredOption('--project <name>', `project the key belongs to (${PROJECT_NAME_RULE})`)
  .option('--label <text>', 'a note to recognise the key by')
  .action(async (opts, cmd: Command) => {
    if (!validProjectName(opts.project)) throw new ConfigError(`--project: '${opts.project}' is not a project name (${PROJECT_NAME_RULE})`);
    const deps = await existingStore(cmd);
    const created = await createApiKey(deps, opts.project, { label: opts.label });
    process.stdout.write(`created key ${created.id} for project ${created.project}:\n${created.key}\n`);
    await deps.store.close();
  });

withSettings(keys.command('list').description('list API keys (never their values)'), ['store']).action(async (_opts, cmd: Command) => {
  const deps = await existingStore(cmd);
  process.stdout.write('ID\tPROJECT\tPREFIX\tSTATE\tLABEL\n');
  for (const k of await deps.store.listApiKeys()) {
    const state = k.revoked_at ? `revoked ${k.revoked_at}` : 'active';
    process.stdout.write(`${k.id}\t${k.project_name}\t${k.prefix}…\t${state}\t${k.label}\n`);
  }
  await deps.store.close();
});

withSettings(keys.command('revoke').description('revoke an API key').argument('<id>', 'key id'), ['store']).action(async (id: string, _opts, cmd: Command) => {
  const deps = await existingStore(cmd);
  const ok = await deps.store.revokeApiKey(id, deps.clock.now().toISOString());
  await deps.store.close();
  if (!ok) {
    process.stderr.write(`no active key with id ${id}\n`);
    process.exitCode = 1;
  } else process.stdout.write(`revoked ${id}\n`);
});

const secrets = program.command('secrets').description('manage the key that seals secrets at rest');
withSettings(secrets.command('rotate-key').description('seal every secret, worker key and upload token under a new key (servers keep running)'), [
  'store',
]).action(async (_opts, cmd: Command) => {
  const config = loadConfig(flagsOf(cmd), process.env);
  const { resealed, current } = await rotateSecretKey(config);
  process.stdout.write(
    `new key in ${join(config.dataDir, 'secret.key')}; ${resealed} value(s) re-sealed, ${current} already under it; ` +
      `the old key stays in secret.key.previous for values a running server seals before it sees the new key\n`,
  );
});

program.parseAsync().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`gantry: invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`gantry: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
