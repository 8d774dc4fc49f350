import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import Together from 'together-ai';
import { eventually } from '../helpers/app.js';
import { startGantry, type GantryProcess } from '../helpers/gantry-process.js';

/**
 * `gantry serve --runtime kubernetes` against a real control plane (kube-apiserver, scheduler,
 * controller-manager and etcd built from source, kwok playing the kubelets of three GPU nodes:
 * `npm run test:k8s` starts it), driven through the official together-ai SDK, with the
 * cluster's own objects checked through @kubernetes/client-node.
 */
const kubeconfigPath = process.env.GANTRY_TEST_KUBECONFIG;
const testbed = fileURLToPath(new URL('../../scripts/k8s-testbed.mjs', import.meta.url));
const skip = kubeconfigPath ? undefined : 'GANTRY_TEST_KUBECONFIG is not set: run these with npm run test:k8s, which starts the test cluster';

describe('the kubernetes runtime on a real control plane with simulated GPU nodes', { ...(skip ? { skip } : {}) }, () => {
  const namespace = `gantry-test-${Date.now().toString(36)}`;
  let dir: string;
  let g: GantryProcess;
  let client: Together;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  const start = async () => {
    // A short idle grace: the scale-to-zero test waits for it.
    g = await startGantry(['--runtime', 'kubernetes', '--kubeconfig', kubeconfigPath!, '--namespace', namespace, '--data-dir', dir, '--idle-grace', '3']);
    const key = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
    client = new Together({ apiKey: key, baseURL: `${g.url}/v1`, maxRetries: 0 });
  };
  const selector = (deploymentId: string) => `app.kubernetes.io/managed-by=gantry,gantry.dev/deployment=${deploymentId}`;
  const pods = async (deploymentId: string) => (await core.listNamespacedPod({ namespace, labelSelector: selector(deploymentId) })).items;
  const until = async <T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000) => {
    const v = await eventually(fn, ok, ms);
    assert.ok(ok(v), `${what}: ${JSON.stringify(v, null, 1).slice(0, 2000)}`);
    return v;
  };

  before(async () => {
    kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigPath!);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    dir = mkdtempSync(join(tmpdir(), 'gantry-k8s-'));
    await start();
  });
  after(async () => {
    await g?.stop();
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  let webId = '';
  test('a deployment becomes pods on the right GPU product, with its secrets only in a Secret, and Ready', async () => {
    await client.beta.jig.secrets.create({ name: 'hf-token', value: 'hf_k8s_s3cret' });
    const d = await client.beta.jig.deploy({
      name: 'Web_1',
      image: 'registry.example/web:1',
      gpu_type: 'h100-80gb',
      gpu_count: 2,
      cpu: 4,
      memory: 16,
      storage: 50,
      port: 8000,
      health_check_path: '/health',
      termination_grace_period_seconds: 20,
      environment_variables: [
        { name: 'MODE', value: 'fast' },
        { name: 'HF_TOKEN', value_from_secret: 'hf-token' },
      ],
    });
    webId = d.id!;
    const ready = await until(
      'Web_1 Ready',
      () => client.beta.jig.retrieve('Web_1'),
      (x) => x.status === 'Ready' && x.ready_replicas === 1,
    );
    const [event] = Object.values(ready.replica_events!);
    assert.equal(event!.replica_status, 'Running');
    assert.ok(event!.replica_ready_since);

    const [pod] = await pods(webId);
    assert.ok(pod, 'one pod');
    const node = await core.readNode({ name: pod!.spec!.nodeName! });
    assert.equal(node.metadata!.labels!['nvidia.com/gpu.product'], 'NVIDIA-H100-80GB-HBM3');
    const c = pod!.spec!.containers[0]!;
    assert.equal(c.resources!.limits!['nvidia.com/gpu'], '2');
    assert.deepEqual(
      { cpu: c.resources!.requests!.cpu, memory: c.resources!.requests!.memory, storage: c.resources!.requests!['ephemeral-storage'] },
      { cpu: '4', memory: '16Gi', storage: '50Gi' },
    );
    assert.equal(c.readinessProbe!.httpGet!.path, '/health');
    assert.ok(c.startupProbe!.failureThreshold! * c.startupProbe!.periodSeconds! >= 600, 'a generous startup probe for model loading');
    assert.equal(pod!.spec!.terminationGracePeriodSeconds, 20);
    assert.ok(pod!.spec!.tolerations!.some((t) => t.key === 'nvidia.com/gpu'));
    // Secrets never in a pod spec or the Deployment; the pod reads a Secret that holds them.
    const deployments = (await apps.listNamespacedDeployment({ namespace, labelSelector: selector(webId) })).items;
    assert.equal(deployments.length, 1);
    assert.ok(!JSON.stringify(pod).includes('hf_k8s_s3cret'), 'no secret value in the pod');
    assert.ok(!JSON.stringify(deployments).includes('hf_k8s_s3cret'), 'no secret value in the Deployment');
    const secretName = c.envFrom![0]!.secretRef!.name!;
    const secret = await core.readNamespacedSecret({ name: secretName, namespace });
    assert.equal(Buffer.from(secret.data!.HF_TOKEN!, 'base64').toString(), 'hf_k8s_s3cret');
    assert.equal(Buffer.from(secret.data!.TOGETHER_DEPLOYMENT_NAME!, 'base64').toString(), 'Web_1');
    assert.ok(secret.data!.TOGETHER_API_KEY, 'the worker key is in the Secret');
    // The Service selects the deployment's pods on its port.
    const services = (await core.listNamespacedService({ namespace, labelSelector: selector(webId) })).items;
    assert.equal(services[0]!.spec!.ports![0]!.port, 8000);
    // Everything is owned by the deployment's anchor, so the garbage collector can remove it.
    assert.equal(deployments[0]!.metadata!.ownerReferences![0]!.kind, 'ConfigMap');
    assert.equal(secret.metadata!.ownerReferences![0]!.kind, 'ConfigMap');
  });

  test('logs come from the pod log API; follow streams new lines as the container writes them', async () => {
    const logs = await client.beta.jig.retrieveLogs('Web_1');
    assert.ok(logs.lines?.includes('simulated container: listening on 8000'), JSON.stringify(logs));
    const key = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
    const res = await fetch(`${g.url}/v1/deployments/Web_1/logs?follow=true`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = '';
    const read = async (until: RegExp) => {
      while (!until.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
    };
    await read(/listening on 8000/);
    // kwok serves every simulated container's log from one file, in the kubelet's (CRI) format.
    appendFileSync(join(dirname(kubeconfigPath!), 'container.log'), `${new Date().toISOString()} stdout F a line written while following\n`);
    await read(/a line written while following/);
    assert.match(text, /a line written while following/);
    await reader.cancel();
  });

  test("hardware comes from the cluster's GPU nodes: per product, up to one node's GPUs", async () => {
    const hw = await client.endpoints.listHardware();
    assert.deepEqual(
      hw.data.map((h) => h.id),
      [
        '1x_nvidia_b200_192gb_sxm',
        '2x_nvidia_b200_192gb_sxm',
        '4x_nvidia_b200_192gb_sxm',
        '1x_nvidia_h100_80gb_sxm',
        '2x_nvidia_h100_80gb_sxm',
        '4x_nvidia_h100_80gb_sxm',
        '8x_nvidia_h100_80gb_sxm',
      ],
    );
  });

  test("a mounted volume version is fetched into the pod by an init container, with the worker key, from Gantry's storage", async () => {
    const key = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
    const upload = async (filename: string, text: string) => {
      const res = await fetch(`${g.url}/v1/storage/upload-request`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ filename }),
      });
      const { upload_url } = (await res.json()) as { upload_url: { url: string; method: string; headers?: Record<string, string> } };
      assert.equal((await fetch(upload_url.url, { method: upload_url.method, headers: upload_url.headers ?? {}, body: text })).status, 200);
    };
    await upload('weights/0/config.json', '{"layers": 2}');
    await upload("weights/0/it's here/tokenizer.txt", 'a b c');
    await client.beta.jig.volumes.create({ name: 'weights', type: 'readOnly', content: { type: 'files', source_prefix: 'weights/0' } });
    const d = await client.beta.jig.deploy({
      name: 'vol',
      image: 'registry.example/vol:1',
      gpu_type: 'h100-80gb',
      gpu_count: 1,
      volumes: [{ name: 'weights', mount_path: '/models' }],
    });
    await until(
      'vol Ready',
      () => client.beta.jig.retrieve('vol'),
      (x) => x.status === 'Ready',
    );
    const [pod] = await pods(d.id!);
    const init = pod!.spec!.initContainers![0]!;
    assert.equal(init.image, 'curlimages/curl:8.11.1');
    const script = init.command![2]!;
    assert.match(script, /fetch 'weights\/0\/config\.json' '\/gantry-volumes\/0\/config\.json'/);
    assert.match(script, /fetch 'weights\/0\/it'\\''s%20here\/tokenizer\.txt'/);
    const app = pod!.spec!.containers[0]!;
    assert.deepEqual(
      app.volumeMounts!.map((m) => ({ ...m })),
      [{ name: 'volume-0', mountPath: '/models', readOnly: true }],
    );
    // What the script asks for, the worker key in the pod's Secret may read.
    const secret = await core.readNamespacedSecret({ name: init.envFrom![0]!.secretRef!.name!, namespace });
    const workerKey = Buffer.from(secret.data!.TOGETHER_API_KEY!, 'base64').toString();
    const base = Buffer.from(secret.data!.TOGETHER_API_BASE_URL!, 'base64').toString();
    const file = await fetch(`${base}/v1/storage/weights/0/it's%20here/tokenizer.txt`, { headers: { authorization: `Bearer ${workerKey}` } });
    assert.equal(file.status, 200);
    assert.equal(await file.text(), 'a b c');
    const other = await fetch(`${base}/v1/storage/elsewhere.txt`, { headers: { authorization: `Bearer ${workerKey}` } });
    assert.equal(other.status, 403);
    await client.beta.jig.destroy('vol');
  });

  test('GPUs run out: a replica waits Unschedulable with the scheduler message, and is scheduled when GPUs free', async () => {
    // The B200 node has 4 GPUs: the first deployment takes them all.
    const first = await client.beta.jig.deploy({ name: 'b200-a', image: 'registry.example/b:1', gpu_type: 'b200-192gb', gpu_count: 4, port: 8000 });
    await until(
      'b200-a Ready',
      () => client.beta.jig.retrieve('b200-a'),
      (x) => x.status === 'Ready',
    );
    const [pod] = await pods(first.id!);
    assert.equal((await core.readNode({ name: pod!.spec!.nodeName! })).metadata!.labels!['nvidia.com/gpu.product'], 'NVIDIA-B200');
    await client.beta.jig.deploy({ name: 'b200-b', image: 'registry.example/b:1', gpu_type: 'b200-192gb', gpu_count: 4, port: 8000 });
    const waiting = await until(
      'b200-b Unschedulable',
      () => client.beta.jig.retrieve('b200-b'),
      (x) => Object.values(x.replica_events ?? {}).some((e) => e.replica_status_reason === 'Unschedulable'),
    );
    const [event] = Object.values(waiting.replica_events!);
    assert.equal(event!.replica_status, 'Waiting');
    assert.match(event!.replica_status_message!, /0\/3 nodes are available: .*Insufficient nvidia\.com\/gpu/);
    assert.equal(waiting.status, 'Updating');
    await client.beta.jig.destroy('b200-a');
    await until(
      'b200-b Ready once b200-a freed its GPUs',
      () => client.beta.jig.retrieve('b200-b'),
      (x) => x.status === 'Ready',
      60_000,
    );
    await client.beta.jig.destroy('b200-b');
  });

  test('a revision whose pods crash-loop makes the deployment Failed, with the exit in the replica event', async () => {
    // The testbed's kwok makes pods of a deployment named "crasher" crash-loop (a Stage).
    await client.beta.jig.deploy({ name: 'crasher', image: 'registry.example/crash:1', gpu_type: 'h100-80gb', gpu_count: 1 });
    const d = await until(
      'crasher Failed',
      () => client.beta.jig.retrieve('crasher'),
      (x) => x.status === 'Failed',
    );
    const [event] = Object.values(d.replica_events!);
    assert.equal(event!.replica_status, 'Waiting');
    assert.equal(event!.replica_status_reason, 'CrashLoopBackOff');
    assert.match(event!.replica_status_message!, /last exit: Error \(code 1\)/);
    await client.beta.jig.destroy('crasher');
  });

  test('scale to zero and back: a request held for a deployment at zero wakes it and reaches the pod', async () => {
    // Pods get loopback IPs from kwok, so this server answers for the simulated container.
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      await client.beta.jig.deploy({
        name: 'zero',
        image: 'registry.example/zero:1',
        gpu_type: 'h100-80gb',
        gpu_count: 1,
        port,
        health_check_path: '/health',
        min_replicas: 0,
        max_replicas: 1,
        autoscaling: { metric: 'HTTPTotalRequests', target: 10 },
      });
      const d = await until(
        'scaled to zero after the idle grace',
        () => client.beta.jig.retrieve('zero'),
        (x) => x.status === 'ScaledToZero',
        60_000,
      );
      assert.equal((await pods(d.id!)).length, 0);
      const key = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
      const res = await fetch(`${g.url}/v1/deployment-request/zero/hello`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { path: '/hello' });
      assert.equal((await pods(d.id!)).length, 1);
      await client.beta.jig.destroy('zero');
    } finally {
      server.close();
    }
  });

  test('scaling and a rolling update: the new revision takes over, the old one goes', async () => {
    const before = await client.beta.jig.retrieve('Web_1');
    const oldRevision = before.environment_variables!.find((v) => v.name === 'TOGETHER_DEPLOYMENT_REVISION_ID')!.value;
    await client.beta.jig.update('Web_1', { min_replicas: 2, max_replicas: 2 });
    await until(
      'two ready replicas',
      () => client.beta.jig.retrieve('Web_1'),
      (x) => x.status === 'Ready' && x.ready_replicas === 2,
    );
    await client.beta.jig.update('Web_1', { image: 'registry.example/web:2' });
    const rolled = await until(
      'the new revision Ready with the old one gone',
      () => client.beta.jig.retrieve('Web_1'),
      (x) => x.status === 'Ready' && x.ready_replicas === 2 && Object.values(x.replica_events ?? {}).every((e) => e.image === 'registry.example/web:2'),
      60_000,
    );
    assert.notEqual(rolled.environment_variables!.find((v) => v.name === 'TOGETHER_DEPLOYMENT_REVISION_ID')!.value, oldRevision);
    const deployments = await until(
      'one Deployment left',
      async () => (await apps.listNamespacedDeployment({ namespace, labelSelector: selector(webId) })).items,
      (items) => items.length === 1,
    );
    assert.equal(deployments[0]!.spec!.template.spec!.containers[0]!.image, 'registry.example/web:2');
  });

  test("a Deployment deleted behind Gantry's back is put back (the Deployments are watched too)", async () => {
    const [before] = (await apps.listNamespacedDeployment({ namespace, labelSelector: selector(webId) })).items;
    await apps.deleteNamespacedDeployment({ name: before!.metadata!.name!, namespace });
    const back = await until(
      'the Deployment re-created',
      async () => (await apps.listNamespacedDeployment({ namespace, labelSelector: selector(webId) })).items,
      (items) => items.length === 1 && items[0]!.metadata!.uid !== before!.metadata!.uid,
    );
    assert.equal(back[0]!.metadata!.name, before!.metadata!.name);
    await until(
      'Ready again',
      () => client.beta.jig.retrieve('Web_1'),
      (x) => x.status === 'Ready' && x.ready_replicas === 2,
      60_000,
    );
  });

  test('a restarted gantry serve adopts the pods it finds: none replaced, none duplicated', async () => {
    const beforeNames = (await pods(webId)).map((p) => p.metadata!.name).sort();
    assert.equal(beforeNames.length, 2);
    assert.equal(await g.stop(), 0);
    // Gantry stopped: the cluster keeps its pods.
    assert.deepEqual((await pods(webId)).map((p) => p.metadata!.name).sort(), beforeNames);
    await start();
    const d = await until(
      'Ready after the restart',
      () => client.beta.jig.retrieve('Web_1'),
      (x) => x.status === 'Ready' && x.ready_replicas === 2,
    );
    assert.deepEqual(Object.keys(d.replica_events!).sort(), beforeNames);
    // A few resync rounds later still the same two pods.
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual((await pods(webId)).map((p) => p.metadata!.name).sort(), beforeNames);
  });

  test('the pod watch survives a restart of the apiserver: later changes are still seen', async () => {
    const r = spawnSync(process.execPath, [testbed, 'restart', 'kube-apiserver'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    await client.beta.jig.update('Web_1', { min_replicas: 1, max_replicas: 1 });
    const d = await until(
      'one replica seen after the apiserver came back',
      () => client.beta.jig.retrieve('Web_1'),
      (x) => x.status === 'Ready' && Object.keys(x.replica_events ?? {}).length === 1,
      60_000,
    );
    assert.deepEqual(
      Object.keys(d.replica_events!),
      (await pods(webId)).map((p) => p.metadata!.name),
    );
  });

  test('delete leaves nothing behind: no Deployment, pod, Secret, Service or anchor with its label', async () => {
    await client.beta.jig.destroy('Web_1');
    await client.beta.jig.secrets.delete('hf-token');
    const left = async () => {
      const labelSelector = selector(webId);
      const [d, p, s, svc, cm] = await Promise.all([
        apps.listNamespacedDeployment({ namespace, labelSelector }),
        core.listNamespacedPod({ namespace, labelSelector }),
        core.listNamespacedSecret({ namespace, labelSelector }),
        core.listNamespacedService({ namespace, labelSelector }),
        core.listNamespacedConfigMap({ namespace, labelSelector }),
      ]);
      return [...d.items, ...p.items, ...s.items, ...svc.items, ...cm.items].map((o) => `${o.kind ?? ''}/${o.metadata!.name}`);
    };
    await until('nothing left', left, (names) => names.length === 0, 60_000);
  });
});
