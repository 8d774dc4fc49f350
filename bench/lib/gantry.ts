import { spawn } from 'node:child_process';

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
