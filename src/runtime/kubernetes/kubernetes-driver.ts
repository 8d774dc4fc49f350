import { PassThrough } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import type { LogFilter, ReplicaState, RevisionTarget, RuntimeDriver } from '../../contract/runtime.js';
import type { Clock } from '../../domain/clock.js';
import { anchor, envSecret, LABELS, MANAGED_BY, pullSecret, revisionName, service, workload } from './k8s-objects.js';
import { ClusterGpus } from './cluster-gpus.js';
import { replicaOf } from './pod-state.js';
import { Watch } from './watch.js';

export interface KubernetesDriverOptions {
  kubeconfig: k8s.KubeConfig;
  namespace: string;
  /** Names this Gantry's objects (label gantry.dev/owner), so two Gantrys sharing a namespace never adopt each other's. */
  owner: string;
  /** The init container image that fetches volume versions (sh and curl); DEFAULT_VOLUME_FETCHER when not given. */
  volumeFetcherImage?: string;
  clock: Clock;
  log?: (msg: string, fields?: object) => void;
}

const FIELD_MANAGER = 'gantry';

/**
 * Runs replicas as pods of a Kubernetes cluster: a Deployment per revision, scaled to what
 * Gantry's rollout plan (reconciler/plan.ts, the same for every runtime) asks of it, so the
 * cluster restarts and reschedules pods while Gantry decides how traffic moves between
 * revisions. Objects are written with server-side apply (idempotent: a restarted Gantry
 * re-applies what exists) and owned by a per-deployment anchor, whose deletion removes the rest.
 * What runs is read from watches (watch.ts) on the namespace's Gantry pods and Deployments.
 */
export class KubernetesDriver implements RuntimeDriver {
  readonly kind = 'kubernetes' as const;
  readonly requiresCommand = false;
  /** An init container of each pod downloads the volume versions from Gantry's storage with the worker key. */
  readonly volumesFrom = 'storage' as const;
  /** The cluster's GPU nodes, which /v1/hardware and endpoint placement read instead of a flag. */
  readonly gpuCapacity: ClusterGpus;
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly core: k8s.CoreV1Api;
  /** Replicas' state (ready pods' IP:port is where the gateway routes), and their workloads (a Deployment deleted by someone else is re-applied). */
  private readonly pods: Watch<k8s.V1Pod>;
  private readonly workloads: Watch<k8s.V1Deployment>;
  private readonly listeners: ((deploymentId: string) => void)[] = [];
  private readonly anchors = new Map<string, string>();
  /** What was last applied for each revision's objects (by Deployment name), to skip re-sending it unchanged. */
  private readonly applied = new Map<string, string>();
  private readonly selector: string;

  private constructor(private readonly o: KubernetesDriverOptions) {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(o.kubeconfig);
    this.core = o.kubeconfig.makeApiClient(k8s.CoreV1Api);
    const apps = o.kubeconfig.makeApiClient(k8s.AppsV1Api);
    this.gpuCapacity = new ClusterGpus(this.core, o.clock, o.log);
    const labelSelector = (this.selector = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.owner}=${o.owner}`);
    const ns = o.namespace;
    const changed = (obj: k8s.KubernetesObject) => {
      const id = obj.metadata?.labels?.[LABELS.deployment];
      if (id) for (const l of this.listeners) l(id);
    };
    const watch = <T extends k8s.KubernetesObject>(what: string, path: string, list: () => Promise<k8s.KubernetesListObject<T>>) =>
      new Watch<T>(what, o.kubeconfig, path, list, labelSelector, changed, o.clock, o.log);
    this.pods = watch('pods', `/api/v1/namespaces/${ns}/pods`, () => this.core.listNamespacedPod({ namespace: ns, labelSelector }));
    this.workloads = watch('deployments', `/apis/apps/v1/namespaces/${ns}/deployments`, () => apps.listNamespacedDeployment({ namespace: ns, labelSelector }));
  }

  /** Connects (a clear error when the cluster cannot be reached) and fills the caches before anything is decided. */
  static async open(o: KubernetesDriverOptions): Promise<KubernetesDriver> {
    const driver = new KubernetesDriver(o);
    await driver.core.listNamespacedPod({ namespace: o.namespace, labelSelector: driver.selector, limit: 1 });
    await Promise.all([driver.pods.start(), driver.workloads.start()]);
    await driver.gpuCapacity.start();
    return driver;
  }

  async apply(deploymentId: string, targets: RevisionTarget[]): Promise<void> {
    const ns = this.o.namespace;
    if (targets.length === 0) {
      // Deleted: the anchor's dependents go with it (the garbage collector), and we delete them too.
      await this.deleteAll(deploymentId);
      return;
    }
    const current = targets.find((t) => t.revision)?.revision;
    const anchorUid = await this.ensureAnchor(deploymentId, current?.deploymentName ?? deploymentId);
    const wanted = new Set(targets.map((t) => revisionName(deploymentId, t.revisionId)));
    for (const t of targets) {
      const name = revisionName(deploymentId, t.revisionId);
      const running = this.workloads.cache.get(name, ns);
      if (t.revision) {
        const spec = t.revision;
        const objects = [
          pullSecret(ns, this.o.owner, spec, anchorUid),
          envSecret(ns, this.o.owner, spec, anchorUid),
          service(ns, this.o.owner, spec, anchorUid),
          workload(ns, this.o.owner, spec, t.replicas, anchorUid, this.o.volumeFetcherImage),
        ].filter((o) => o !== null);
        // Reconciles come with every pod event: what was applied and still exists is not sent again.
        const fingerprint = JSON.stringify(objects);
        if (running && this.applied.get(name) === fingerprint) continue;
        for (const o of objects) await this.applyObject(o);
        this.applied.set(name, fingerprint);
      } else if (running?.spec?.replicas !== t.replicas) {
        // An older revision being rolled away: only its replica count changes.
        await this.objects.patch(
          { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns }, spec: { replicas: t.replicas } },
          undefined,
          undefined,
          FIELD_MANAGER,
          undefined,
          k8s.PatchStrategy.MergePatch,
        );
      }
    }
    // Revisions no longer asked for (as the watch has them): their Deployment and Secrets go.
    for (const d of this.workloads.cache.list(ns)) {
      const name = d.metadata!.name!;
      if (d.metadata?.labels?.[LABELS.deployment] !== deploymentId || wanted.has(name)) continue;
      this.applied.delete(name);
      await this.deleteObject('apps/v1', 'Deployment', name);
      await this.deleteObject('v1', 'Secret', name);
      await this.deleteObject('v1', 'Secret', `${name}-pull`);
    }
  }

  /**
   * The deployment's pods as replicas, a ready one at its pod IP and port: the Ready condition
   * and IP that a Service's EndpointSlices are computed from (slices also refuse loopback
   * addresses, which the test cluster gives its simulated pods so that traffic is real).
   */
  observe(deploymentId: string): ReplicaState[] {
    return this.pods.cache
      .list(this.o.namespace)
      .filter((p) => p.metadata?.labels?.[LABELS.deployment] === deploymentId)
      .map(replicaOf)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  deployments(): string[] {
    const objects = [...this.pods.cache.list(this.o.namespace), ...this.workloads.cache.list(this.o.namespace)];
    return [...new Set(objects.map((o) => o.metadata?.labels?.[LABELS.deployment]).filter((id): id is string => !!id))];
  }

  onChange(listener: (deploymentId: string) => void): void {
    this.listeners.push(listener);
  }

  /** Each pod's log (the previous container's too, after a crash), through the pod log API. */
  async logs(deploymentId: string, filter: LogFilter): Promise<string[]> {
    const lines: string[] = [];
    for (const pod of this.podsOf(deploymentId, filter)) {
      const name = pod.metadata!.name!;
      const restarted = (pod.status?.containerStatuses?.[0]?.restartCount ?? 0) > 0;
      for (const previous of restarted ? [true, false] : [false]) {
        try {
          const text = await this.core.readNamespacedPodLog({ name, namespace: this.o.namespace, container: 'app', previous });
          lines.push(...text.split('\n').filter(Boolean));
        } catch (err) {
          // A pod that has not started (or a kubelet that cannot be reached) has no log yet.
          this.o.log?.('kubernetes: cannot read a pod log', { pod: name, error: (err as Error).message });
        }
      }
    }
    return lines;
  }

  /** Streams each running pod's log; a broken stream reconnects from the last line's time. */
  followLogs(deploymentId: string, filter: LogFilter, onLines: (lines: string[]) => void): () => void {
    const log = new k8s.Log(this.o.kubeconfig);
    const aborts: AbortController[] = [];
    let stopped = false;
    const follow = (pod: string, sinceTime?: string) => {
      // A pod that is gone has no more to say: its stream is not reopened.
      if (stopped || !this.pods.cache.get(pod, this.o.namespace)) return;
      const stream = new PassThrough();
      let last = sinceTime;
      let partial = '';
      stream.on('data', (chunk: Buffer) => {
        const text = partial + chunk.toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        // Timestamps let a reconnect resume where this stream ended; the user sees the text only.
        const out = parts.filter(Boolean).map((l) => {
          const space = l.indexOf(' ');
          last = l.slice(0, space);
          return l.slice(space + 1);
        });
        if (out.length) onLines(out);
      });
      stream.on('end', () => this.o.clock.setTimeout(() => follow(pod, last), 1000));
      void log
        .log(this.o.namespace, pod, 'app', stream, { follow: true, timestamps: true, ...(last ? { sinceTime: last } : { tailLines: 0 }) })
        .then((abort) => aborts.push(abort))
        .catch(() => this.o.clock.setTimeout(() => follow(pod, last), 2000));
    };
    const followed = new Set<string>();
    const startNew = () => {
      for (const pod of this.podsOf(deploymentId, filter)) {
        const name = pod.metadata!.name!;
        if (pod.status?.phase === 'Running' && !followed.has(name)) {
          followed.add(name);
          follow(name);
        }
      }
    };
    startNew();
    const onChange = (id: string) => id === deploymentId && startNew();
    this.listeners.push(onChange);
    return () => {
      stopped = true;
      for (const a of aborts) a.abort();
      const i = this.listeners.indexOf(onChange);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  async close(): Promise<void> {
    this.gpuCapacity.stop();
    await Promise.all([this.pods.stop(), this.workloads.stop()]);
  }

  private podsOf(deploymentId: string, filter: LogFilter) {
    return this.pods.cache
      .list(this.o.namespace)
      .filter(
        (p) =>
          p.metadata?.labels?.[LABELS.deployment] === deploymentId &&
          (!filter.replicaId || p.metadata?.name === filter.replicaId) &&
          (!filter.revisionId || p.metadata?.labels?.[LABELS.revision] === filter.revisionId),
      );
  }

  private async ensureAnchor(deploymentId: string, deploymentName: string): Promise<string> {
    const known = this.anchors.get(deploymentId);
    if (known) return known;
    const applied = await this.applyObject(anchor(this.o.namespace, this.o.owner, deploymentId, deploymentName));
    const uid = applied.metadata!.uid!;
    this.anchors.set(deploymentId, uid);
    return uid;
  }

  private applyObject(obj: k8s.KubernetesObject & Record<string, unknown>) {
    return this.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
  }

  private async deleteObject(apiVersion: string, kind: string, name: string) {
    try {
      await this.objects.delete(
        { apiVersion, kind, metadata: { name, namespace: this.o.namespace } },
        undefined,
        undefined,
        undefined,
        undefined,
        'Background',
      );
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }

  private async deleteAll(deploymentId: string) {
    this.anchors.delete(deploymentId);
    const selector = `${this.selector},${LABELS.deployment}=${deploymentId}`;
    for (const [apiVersion, kind] of [
      ['apps/v1', 'Deployment'],
      ['v1', 'Secret'],
      ['v1', 'Service'],
      ['v1', 'ConfigMap'],
    ] as const) {
      const list = await this.objects.list(apiVersion, kind, this.o.namespace, undefined, undefined, undefined, undefined, selector);
      for (const item of list.items) {
        this.applied.delete(item.metadata!.name!);
        await this.deleteObject(apiVersion, kind, item.metadata!.name!);
      }
    }
  }
}
