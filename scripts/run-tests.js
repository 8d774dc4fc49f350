// `npm test`: starts one throwaway PostgreSQL server for the whole run (so every store and
// API test runs on PostgreSQL as well as SQLite) and Podman's API service (for the docker
// runtime), runs Node's test runner over test/, stops them.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildWorkerImage, findPodman, startPodmanService } from './podman-service.js';
import { findPostgresBin, startPostgres } from './postgres-server.js';

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []))
    .sort();
}

const only = process.argv.slice(2);
// test/k8s needs the Kubernetes test cluster: `npm run test:k8s` starts it and runs those.
const files = only.length ? only : testFiles('test').filter((f) => !f.startsWith(join('test', 'k8s')));
const env = { ...process.env };
let pg = null;
if (findPostgresBin()) {
  pg = await startPostgres();
  env.GANTRY_TEST_POSTGRES_URL = pg.url;
} else {
  env.GANTRY_TEST_POSTGRES_SKIP = "PostgreSQL binaries not found under /usr/lib/postgresql (install Debian's postgresql package; .ci/run does)";
}

// Podman's Docker-compatible API, for the docker runtime's tests (configured by podman-service.js).
let podman = null;
if (findPodman()) {
  try {
    podman = await startPodmanService();
    env.GANTRY_TEST_WORKER_IMAGE = buildWorkerImage();
    env.GANTRY_TEST_DOCKER_HOST = podman.host;
  } catch (err) {
    env.GANTRY_TEST_DOCKER_SKIP = `Podman is installed but not usable here: ${String(err.message).split('\n')[0]}`;
    console.error(`# docker runtime tests skipped: ${env.GANTRY_TEST_DOCKER_SKIP}`);
  }
} else {
  env.GANTRY_TEST_DOCKER_SKIP = "podman not found (install Debian's podman and runc; .ci/run does)";
}

// Together's Python SDK, in the virtual environment .ci/run makes (see PYTHON_SDK_VENV there).
const pythonSdk = join(process.env.GANTRY_TEST_VENV ?? join(homedir(), '.cache', 'gantry-test-venv'), 'bin', 'python');
if (existsSync(pythonSdk)) env.GANTRY_TEST_PYTHON_SDK = pythonSdk;
else
  env.GANTRY_TEST_PYTHON_SDK_SKIP = `no virtual environment with Together's Python SDK at ${pythonSdk} (.ci/run makes it: python3 -m venv, pip install together)`;

// Every test has a deadline, so a wait that never ends fails that test instead of hanging the run.
const TEST_TIMEOUT_MS = 5 * 60_000;
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], {
  stdio: 'inherit',
  env,
});
const stop = () => {
  pg?.stop();
  podman?.stop();
};
process.on('SIGINT', () => child.kill('SIGINT'));
child.on('exit', (code, signal) => {
  stop();
  process.exit(code ?? (signal ? 1 : 0));
});
