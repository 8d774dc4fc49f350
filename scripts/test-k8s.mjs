// `npm run test:k8s`: starts the Kubernetes test cluster (scripts/k8s-testbed.mjs, building it on
// first use) and runs test/k8s/ against it through scripts/run-tests.js, then stops the cluster
// (GANTRY_K8S_KEEP=1 leaves it running for the next run).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const testbed = (cmd) => execFileSync(process.execPath, ['scripts/k8s-testbed.mjs', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const keep = process.env.GANTRY_K8S_KEEP;
let status = 1;
try {
  const started = Date.now();
  const kubeconfig = /^KUBECONFIG=(.+)$/m.exec(testbed('up'))?.[1];
  if (!kubeconfig) throw new Error('the test cluster did not print its KUBECONFIG');
  process.stderr.write(`# test cluster up in ${Math.round((Date.now() - started) / 1000)} s\n`);
  const files = process.argv.slice(2).length
    ? process.argv.slice(2)
    : readdirSync('test/k8s')
        .filter((f) => f.endsWith('.test.ts'))
        .map((f) => join('test/k8s', f));
  status =
    spawnSync(process.execPath, ['scripts/run-tests.js', ...files], { stdio: 'inherit', env: { ...process.env, GANTRY_TEST_KUBECONFIG: kubeconfig } }).status ??
    1;
} catch (err) {
  process.stderr.write(`${err.message}\n`);
} finally {
  // Nothing left running, whatever happened (unless asked to keep it for the next run).
  if (!keep) testbed('down');
}
process.exit(status);
