import { spawn } from 'node:child_process';

/**
 * Starts the compiled `gantry serve` on a free loopback port with `key` as the admin key
 * (run `npm run build` first); resolves once it prints its URL.
 */
export async function startGantry(dataDir: string, key: string, extraArgs: string[] = []) {
  // One key drives the whole load: per-key limits would measure themselves, not the server.
  const args = [
    'bin/gantry.js',
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
    '--log-level',
    'warn',
    '--rate-limit',
    '0',
    '--max-long-polls',
    '0',
    ...extraArgs,
  ];
  const proc = spawn(process.execPath, args, { env: { ...process.env, GANTRY_ADMIN_KEY: key }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (c) => reject(new Error(`gantry exited with ${c}`)));
  });
  return { url, pid: proc.pid!, stop: () => new Promise<void>((r) => (proc.kill('SIGTERM'), proc.on('exit', () => r()))) };
}
