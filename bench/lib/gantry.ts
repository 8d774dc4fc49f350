import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Starts the compiled `gantry serve` on a free loopback port with `key` as the admin key
 * (run `npm run build` first); resolves once it prints its URL.
 */
export async function startGantry(dataDir: string, key: string, extraArgs: string[] = [], logLevel = 'warn') {
  // One key drives the whole load: per-key limits would measure themselves, not the server.
  const args = [
    'bin/gantry.js',
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
    '--log-level',
    logLevel,
    '--rate-limit',
    '0',
    '--max-long-polls',
    '0',
    ...extraArgs,
  ];
  const proc = spawn(process.execPath, args, { env: { ...process.env, GANTRY_ADMIN_KEY: key }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', () => {
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (c) => reject(new Error(`gantry exited with ${c}`)));
  });
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return {
    url,
    pid: proc.pid!,
    /** Everything it printed so far (its log lines are JSON). */
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/**
 * Deploys the fixture worker (test/fixtures/worker.js) as `up` on the process runtime with
 * `replicas` replicas, waits until all are ready, and answers the ports they listen on (each
 * writes its environment to env.json in its directory under `dataDir`).
 */
export async function deployFixtureWorker(url: string, key: string, dataDir: string, replicas = 1): Promise<string[]> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const created = await fetch(`${url}/v1/deployments`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      name: 'up',
      image: 'local/worker:1',
      gpu_type: 'none',
      command: [process.execPath, fileURLToPath(new URL('../../test/fixtures/worker.js', import.meta.url))],
      health_check_path: '/health',
      min_replicas: replicas,
      max_replicas: replicas,
      environment_variables: [{ name: 'WRITE_ENV_FILE', value: '1' }],
    }),
  });
  const { id } = (await created.json()) as { id: string };
  for (;;) {
    const s = (await (await fetch(`${url}/v1/deployments/up`, { headers })).json()) as { ready_replicas: number };
    if (s.ready_replicas === replicas) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const base = join(dataDir, 'replicas', id);
  return readdirSync(base)
    .map((r) => join(base, r, 'env.json'))
    .filter(existsSync)
    .map((f) => JSON.parse(readFileSync(f, 'utf8')).env.PORT as string);
}
