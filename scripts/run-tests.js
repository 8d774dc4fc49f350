// `npm test`: starts one throwaway PostgreSQL server for the whole run (so every store and
// API test runs on PostgreSQL as well as SQLite) and Podman's API service (for the docker
// runtime), runs Node's test runner over test/, stops them.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildWorkerImage, findPodman, startPodmanService } from './podman-service.js';
import { findPostgresBin, startPostgres } from './postgres-server.js';

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []))
    .sort();
}

const only = process.argv.slice(2);
const files = only.length ? only : testFiles('test');
const env = { ...process.env };
let pg = null;
if (findPostgresBin()) {
  pg = await startPostgres();
  env.GANTRY_TEST_POSTGRES_URL = pg.url;
} else {
  env.GANTRY_TEST_POSTGRES_SKIP = "PostgreSQL binaries not found under /usr/lib/postgresql (install Debian's postgresql package; .ci/run does)";
}

// Podman's Docker-compatible API, for the docker runtime's tests.
let podman = null;
if (findPodman()) {
  podman = await startPodmanService();
  env.GANTRY_TEST_DOCKER_HOST = podman.host;
  env.GANTRY_TEST_WORKER_IMAGE = buildWorkerImage();
} else {
  env.GANTRY_TEST_DOCKER_SKIP = "podman not found (install Debian's podman and runc and configure them as .ci/run does)";
}

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
const stop = () => {
  pg?.stop();
  podman?.stop();
};
process.on('SIGINT', () => child.kill('SIGINT'));
child.on('exit', (code, signal) => {
  stop();
  process.exit(code ?? (signal ? 1 : 0));
});
