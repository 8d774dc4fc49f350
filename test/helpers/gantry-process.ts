import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Together from 'together-ai';

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** The worker fixture (test/fixtures/worker.js) as a process-runtime deployment, CPU-only and health-checked. */
export const workerDeployment = (name: string, extra: object = {}) => ({
  name,
  image: 'local/worker:1',
  gpu_type: 'none',
  command: [process.execPath, fileURLToPath(new URL('../fixtures/worker.js', import.meta.url))],
  health_check_path: '/health',
  ...extra,
});

export interface GantryProcess {
  proc: ChildProcess;
  url: string;
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the `gantry` CLI as users do, from source through tsx, and collects its output. */
export function runGantry(args: string[], env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
    cwd: root,
    // No image registry unless a test asks for one: it listens on a fixed port, which parallel tests would contend for.
    env: { ...process.env, GANTRY_LOG_LEVEL: 'warn', GANTRY_REGISTRY: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

/** Starts `gantry serve` and resolves once it prints its `listening on` line. */
export async function startGantry(args: string[], env: Record<string, string> = {}): Promise<GantryProcess> {
  const { proc, output, exited } = runGantry(['serve', '--listen', '127.0.0.1:0', ...args], env);
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: a loaded machine compiles TypeScript slowly, and gateway workers are three processes.
    const timer = setTimeout(() => reject(new Error(`gantry serve did not start:\n${output()}`)), 60000);
    const check = () => {
      const m = /^listening on (\S+)$/m.exec(output());
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gantry serve exited with ${code}:\n${output()}`));
    });
  });
  return {
    proc,
    url,
    output,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
  };
}

/** JSON calls with a key to a running gantry; `url` is read at each call (a restarted server has a new one). */
export function apiCaller(url: () => string, key: string) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url()}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

/** A `gantry serve` in a fresh data dir, with its admin key and the official SDK pointed at it. */
export interface ServedGantry {
  dir: string;
  g: GantryProcess;
  key: string;
  client: Together;
}

/** Starts `gantry serve` in a new data dir under `prefix`; `args` may prepare files in the dir first. */
export async function serveWithClient(prefix: string, args: (dir: string) => string[], env: Record<string, string> = {}): Promise<ServedGantry> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const g = await startGantry(args(dir), env);
  const key = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
  return { dir, g, key, client: new Together({ apiKey: key, baseURL: `${g.url}/v1`, maxRetries: 0 }) };
}

/** Stops it and removes its data dir. */
export async function stopServed(s: ServedGantry | undefined) {
  if (!s) return;
  await s.g.stop();
  rmSync(s.dir, { recursive: true, force: true });
}
