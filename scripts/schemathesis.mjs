// `npm run fuzz:schemathesis [-- EXAMPLES]`: schemathesis (PyPI) against a fresh `gantry serve
// --demo`, every operation of its /openapi.json with the admin key, checking that no response is
// a 5xx; then that the server is still up and answers as before. EXAMPLES per operation (default
// 20, about 3,300 requests; 650 for the ≥100,000-request run). Schemathesis comes from
// $GANTRY_SCHEMATHESIS or ~/.cache/gantry-schemathesis-venv (.ci/run makes it).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
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
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
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
const reports = join(dir, 'reports');
// Logs with follow=true stream until the client leaves: schemathesis would wait on it forever
// (the route is covered by the API tests instead).
const run = spawnSync(
  st,
  [
    'run',
    `${url}/openapi.json`,
    '-H',
    `Authorization: Bearer ${key}`,
    '-c',
    'not_a_server_error',
    '-n',
    examples,
    '--exclude-path-regex',
    '/logs$',
    '-w',
    workers,
    '--request-timeout',
    '30',
    '--report',
    'ndjson',
    '--report-dir',
    reports,
    '--no-color',
    '--generation-allow-x00',
    'true',
  ],
  { stdio: 'inherit' },
);
// Count the requests it made, from its event log.
let requests = 0;
for (const f of readdirSync(reports)) {
  for (const line of readFileSync(join(reports, f), 'utf8').split('\n'))
    if (line.includes('"interactions"')) requests += (line.match(/"request":/g) ?? []).length;
}
const alive = await fetch(`${url}/v1/deployments`, { headers: { authorization: `Bearer ${key}` } }).then(
  (r) => r.status,
  () => 'down',
);
server.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });
console.log(`schemathesis: ${requests} requests, exit ${run.status}; gantry afterwards: ${alive === 200 ? 'up' : `NOT up (${alive})`}`);
process.exit(run.status === 0 && alive === 200 ? 0 : 1);
