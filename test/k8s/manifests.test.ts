import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import Together from 'together-ai';
import { Agent, fetch as undiciFetch } from 'undici';
import { eventually } from '../helpers/app.js';
import { startGantry, type GantryProcess } from '../helpers/gantry-process.js';

/**
 * deploy/kubernetes/ applied to the test cluster with server-side apply (which validates every
 * field against the API's schema), and its least-privilege RBAC proven sufficient: a `gantry
 * serve --runtime kubernetes` holding only the gantry ServiceAccount's token deploys, reads the
 * cluster's GPUs and deletes without a single forbidden call.
 */
const kubeconfigPath = process.env.GANTRY_TEST_KUBECONFIG;
const skip = kubeconfigPath ? undefined : 'GANTRY_TEST_KUBECONFIG is not set: run these with npm run test:k8s, which starts the test cluster';
const manifests = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));

describe('deploy/kubernetes on the test cluster', { ...(skip ? { skip } : {}) }, () => {
  const namespace = `gantry-manifests-${Date.now().toString(36)}`;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let objects: k8s.KubernetesObjectApi;
  let dir: string;
  let g: GantryProcess | undefined;
  const applied: k8s.KubernetesObject[] = [];

  /** Server-side apply with strict field validation (a field the API's schema does not know is a 422), as `kubectl apply --server-side --validate=strict` does. */
  const applyStrict = async (obj: k8s.KubernetesObject & Record<string, any>) => {
    const cluster = kc.getCurrentCluster()!;
    const [group, version] = obj.apiVersion!.includes('/') ? obj.apiVersion!.split('/') : ['', obj.apiVersion!];
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const ns = obj.metadata!.namespace ? `/namespaces/${obj.metadata!.namespace}` : '';
    const url = `${cluster.server}${base}${ns}/${obj.kind!.toLowerCase()}s/${obj.metadata!.name}?fieldManager=gantry-test&force=true&fieldValidation=Strict`;
    const res = await undiciFetch(url, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${kc.getCurrentUser()!.token}`, 'content-type': 'application/apply-patch+yaml' },
      body: JSON.stringify(obj),
      dispatcher: new Agent({ connect: { rejectUnauthorized: !cluster.skipTLSVerify } }),
    });
    return { status: res.status, body: (await res.json()) as k8s.KubernetesObject };
  };

  before(async () => {
    kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigPath!);
    core = kc.makeApiClient(k8s.CoreV1Api);
    objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    dir = mkdtempSync(join(tmpdir(), 'gantry-manifests-'));
  });
  after(async () => {
    await g?.stop();
    for (const o of applied.filter((o) => !o.metadata?.namespace)) await objects.delete(o).catch(() => undefined);
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  test('every object applies with server-side apply: the schema accepts each field', async () => {
    for (const file of ['rbac.yaml', 'gantry.yaml']) {
      for (const obj of k8s.loadAllYaml(readFileSync(join(manifests, file), 'utf8')) as (k8s.KubernetesObject & Record<string, any>)[]) {
        if (obj.kind === 'ClusterRole' || obj.kind === 'ClusterRoleBinding') {
          // Cluster-wide names are per test run; the binding names this run's namespace.
          obj.metadata!.name = `${obj.metadata!.name}-${namespace}`;
          if (obj.kind === 'ClusterRoleBinding') {
            obj.roleRef.name = `${obj.roleRef.name}-${namespace}`;
            obj.subjects[0].namespace = namespace;
          }
        } else {
          obj.metadata!.namespace = namespace;
        }
        const result = await applyStrict(obj);
        assert.ok(result.status === 200 || result.status === 201, JSON.stringify(result.body));
        applied.push(result.body);
      }
    }
    assert.deepEqual(applied.map((o) => o.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    // An unknown field is refused by the same path, so the check above can fail.
    const typo = await applyStrict({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'typo', namespace }, spec: { ports: [{ port: 80 }], selectr: {} } });
    // (The apiserver answers an apply it cannot type with a 500 naming the field.)
    assert.ok(typo.status >= 400, `status ${typo.status}`);
    assert.match(JSON.stringify(typo.body), /selectr.*(not declared in schema|unknown field)/);
  });

  test("the gantry ServiceAccount's permissions are enough to run deployments, and read the cluster's GPUs", async () => {
    const { status } = await core.createNamespacedServiceAccountToken({
      name: 'gantry',
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = kc.getCurrentCluster()!;
    const limited = join(dir, 'kubeconfig');
    writeFileSync(
      limited,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${cluster.server}\n    insecure-skip-tls-verify: true\n` +
        `users:\n- name: gantry\n  user:\n    token: ${status!.token}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: gantry\ncurrent-context: c\n`,
    );
    g = await startGantry(['--runtime', 'kubernetes', '--kubeconfig', limited, '--namespace', namespace, '--data-dir', join(dir, 'data')]);
    const key = readFileSync(join(dir, 'data', 'admin.key'), 'utf8').trim();
    const client = new Together({ apiKey: key, baseURL: `${g.url}/v1`, maxRetries: 0 });
    assert.ok((await client.endpoints.listHardware()).data.length > 0, 'the ClusterRole lets it read the nodes');
    await client.beta.jig.secrets.create({ name: 'tok', value: 'v' });
    await client.beta.jig.deploy({
      name: 'rbac-check',
      image: 'registry.example/app:1',
      gpu_type: 'h100-80gb',
      gpu_count: 1,
      environment_variables: [{ name: 'TOK', value_from_secret: 'tok' }],
    });
    const ready = await eventually(
      () => client.beta.jig.retrieve('rbac-check'),
      (d) => d.status === 'Ready',
      30_000,
    );
    assert.equal(ready.status, 'Ready', JSON.stringify(ready));
    await client.beta.jig.destroy('rbac-check');
    const left = await eventually(
      async () => (await core.listNamespacedPod({ namespace, labelSelector: 'app.kubernetes.io/managed-by=gantry' })).items.length,
      (n) => n === 0,
      30_000,
    );
    assert.equal(left, 0);
    assert.doesNotMatch(g.output(), /forbidden/i);
  });
});
