// `npm run fuzz:schemathesis [-- EXAMPLES]`: schemathesis (PyPI) against a fresh `gantry serve
// --demo`, every operation of its /openapi.json with the admin key, checking that no response is
// a 5xx; then that the server is still up and answers as before. EXAMPLES per operation (default
// 20, about 3,300 requests; 1800 for the run of over 100,000). GANTRY_SCHEMATHESIS_WORKERS sets
// schemathesis's workers (default 1). Schemathesis comes from $GANTRY_SCHEMATHESIS or
// ~/.cache/gantry-schemathesis-venv (.ci/run makes it).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

const examples = process.argv[2] ?? '20';
const workers = process.env.GANTRY_SCHEMATHESIS_WORKERS ?? '1';
const st = process.env.GANTRY_SCHEMATHESIS ?? join(homedir(), '.cache', 'gantry-schemathesis-venv', 'bin', 'st');
if (!existsSync(st)) {
  console.error(
    `no schemathesis at ${st}: python3 -m venv ~/.cache/gantry-schemathesis-venv && ~/.cache/gantry-schemathesis-venv/bin/pip install schemathesis`,
  );
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'gantry-st-'));
const server = spawn(
  process.execPath,
  ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--demo', '--data-dir', dir, '--listen', '127.0.0.1:0', '--rate-limit', '0', '--log-level', 'error'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const url = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = /^listening on (\S+)$/m.exec(out);
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`gantry serve exited with ${code}`)));
});
const key = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
// Logs with follow=true stream until the client leaves: schemathesis would wait on it forever
// (the route is covered by the API tests instead).
const args = ['run', `${url}/openapi.json`, '-H', `Authorization: Bearer ${key}`, '-c', 'not_a_server_error', '-n', examples, '-w', workers];
args.push('--exclude-path-regex', '/logs$', '--request-timeout', '30', '--no-color', '--generation-allow-x00', 'true');
// In the throwaway folder: schemathesis and hypothesis keep their caches in the working directory.
const run = spawn(st, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: dir });
let output = '';
run.stdout.on('data', (d) => {
  output += d;
  process.stdout.write(d);
});
const status = await new Promise((resolve) => run.on('exit', (code) => resolve(code)));
// Its summary counts the test cases it ran, a request each (a stateful scenario's steps are cases too).
const requests = Number(/(\d+) generated/.exec(output)?.[1] ?? 0);
const alive = await fetch(`${url}/v1/deployments`, { headers: { authorization: `Bearer ${key}` } }).then(
  (r) => r.status,
  () => 'down',
);
server.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });
console.log(`schemathesis: ${requests} requests, exit ${status}; gantry afterwards: ${alive === 200 ? 'up' : `NOT up (${alive})`}`);
process.exit(status === 0 && alive === 200 ? 0 : 1);
