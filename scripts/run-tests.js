// `npm test`: starts one throwaway PostgreSQL server for the whole run (so every store and
// API test runs on PostgreSQL as well as SQLite), runs Node's test runner over test/, stops it.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
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

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
const stop = () => pg?.stop();
process.on('SIGINT', () => child.kill('SIGINT'));
child.on('exit', (code, signal) => {
  stop();
  process.exit(code ?? (signal ? 1 : 0));
});
