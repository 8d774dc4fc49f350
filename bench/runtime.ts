/**
 * Replica start-up on the process and docker runtimes, in one run, through a real
 * `gantry serve` (compiled):
 *  - from POST /v1/deployments to the first ready replica of a trivial worker;
 *  - from a replica's crash (SIGKILL) to its replacement being ready again.
 * Time is measured by polling GET /v1/deployments/{name} every 2 ms. The docker runtime runs
 * against Podman's Docker-compatible API, started here as `npm test` does, with the same image.
 *
 *   npm run build && node --import tsx bench/runtime.ts      (BENCH_RUNS=10)
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain JavaScript helper shared with the test runner
import { buildWorkerImage, findPodman, startPodmanService } from '../scripts/podman-service.js';
import { DockerApi } from '../src/runtime/docker/docker-api.js';
import { startGantry } from './lib/gantry.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const KEY = 'bench-runtime-key-0123456789abcdef0123456789';
const worker = fileURLToPath(new URL('../test/fixtures/worker.js', import.meta.url));

interface Runtime {
  name: string;
  args: string[];
  deployment: object;
  /** SIGKILLs the deployment's one replica. */
  crash(dir: string, deploymentId: string): Promise<void>;
  /**
   * Removes what the deployments left once Gantry is stopped: containers outlive Gantry by
   * design, and orphans would run on (their published ports can even capture a later server's).
   */
  cleanUp(deploymentIds: string[]): Promise<void>;
}

const processRuntime: Runtime = {
  name: 'process',
  args: [],
  deployment: { command: [process.execPath, worker], environment_variables: [{ name: 'WRITE_ENV_FILE', value: '1' }] },
  async crash(dir, id) {
    const base = join(dir, 'replicas', id);
    const envFile = readdirSync(base)
      .map((r) => join(base, r, 'env.json'))
      .find(existsSync)!;
    process.kill(JSON.parse(readFileSync(envFile, 'utf8')).pid, 'SIGKILL');
  },
  // Process replicas are Gantry's children and stop with it.
  cleanUp: async () => {},
};

function dockerRuntime(host: string, image: string): Runtime {
  const api = new DockerApi(host);
  const containers = async (id: string, all = false) => {
    const filters = JSON.stringify({ label: [`gantry.deployment=${id}`] });
    return (await api.call<{ Id: string }[]>('GET', '/containers/json', { query: { filters, all: String(all) } })).body;
  };
  return {
    name: 'docker (Podman)',
    args: ['--runtime', 'docker', '--docker-host', host],
    deployment: { image, port: 8000 },
    async crash(_dir, id) {
      await api.call('POST', `/containers/${(await containers(id))[0]!.Id}/kill`, { query: { signal: 'KILL' } });
    },
    async cleanUp(ids) {
      for (const id of ids) for (const c of await containers(id, true)) await api.call('DELETE', `/containers/${c.Id}`, { query: { force: 'true' } });
    },
  };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length / 2)]!, max: s.at(-1)!, min: s[0]! };
};

async function measure(rt: Runtime) {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-rt-'));
  const { url, stop } = await startGantry(dir, KEY, rt.args);
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const get = async (name: string) => (await fetch(`${url}/v1/deployments/${name}`, { headers })).json() as Promise<any>;
  const untilReady = async (name: string, since: number) => {
    for (;;) {
      const d = await get(name);
      if (d.ready_replicas >= 1 && d.status === 'Ready') return performance.now() - since;
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  const toReady: number[] = [];
  const crashToReady: number[] = [];
  const ids: string[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const name = `bench-${i}`;
      const t0 = performance.now();
      await fetch(`${url}/v1/deployments`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name, image: 'local/worker:1', gpu_type: 'none', health_check_path: '/health', ...rt.deployment }),
      });
      toReady.push(await untilReady(name, t0));

      const t1 = performance.now();
      await rt.crash(dir, (await get(name)).id);
      // Wait until Gantry has seen the crash, then until the replacement is ready.
      while ((await get(name)).status === 'Ready') await new Promise((r) => setTimeout(r, 2));
      crashToReady.push(await untilReady(name, t1));
      ids.push((await get(name)).id);
      await fetch(`${url}/v1/deployments/${name}`, { method: 'DELETE', headers });
    }
  } finally {
    await stop();
    await rt.cleanUp(ids);
    rmSync(dir, { recursive: true, force: true });
  }
  const a = stats(toReady);
  const b = stats(crashToReady);
  console.log(`| ${rt.name} | POST → first replica ready | ${a.p50.toFixed(0)} | ${a.min.toFixed(0)} | ${a.max.toFixed(0)} |`);
  console.log(`| ${rt.name} | crash (SIGKILL) → replacement ready | ${b.p50.toFixed(0)} | ${b.min.toFixed(0)} | ${b.max.toFixed(0)} |`);
}

console.log(`\ntrivial Node.js worker with a health check, ${RUNS} runs per runtime\n`);
console.log('| runtime | measure | p50 ms | min ms | max ms |');
console.log('|---|---|---:|---:|---:|');
await measure(processRuntime);
if (findPodman()) {
  const podman = await startPodmanService();
  try {
    await measure(dockerRuntime(podman.host, buildWorkerImage()));
  } finally {
    podman.stop();
  }
} else {
  console.log('| docker | skipped: podman is not installed | | | |');
}
process.exit(0);
