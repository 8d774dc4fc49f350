import type { RevisionSpec } from '../../contract/runtime.js';
import { registryOf } from '../../domain/image-ref.js';

/**
 * The Kubernetes objects of a Gantry deployment, built pure from its revision spec:
 *
 * - an **anchor** ConfigMap per deployment that owns everything else (owner references), so
 *   deleting it lets the garbage collector remove whatever a crash left behind;
 * - per revision a **Secret** holding the replica's whole environment (secrets resolved, worker
 *   key) that the pod reads with `envFrom`: no value is ever in a pod spec, and a **Deployment**
 *   scaled to what Gantry's rollout plan asks of that revision;
 * - a **Service** selecting the deployment's pods on its port (for in-cluster clients; Gantry's
 *   gateway routes to ready pod IPs itself);
 * - an image pull Secret when the image is in Gantry's registry (the worker key as password).
 *
 * Every object carries the labels below, so a restarted Gantry finds and adopts what exists.
 */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  owner: 'gantry.dev/owner',
  deployment: 'gantry.dev/deployment',
  revision: 'gantry.dev/revision',
} as const;
export const MANAGED_BY = 'gantry';
/** Where the container's port and deployment name are kept for observation. */
export const ANNOTATIONS = { port: 'gantry.dev/port', name: 'gantry.dev/deployment-name' } as const;

/** GPU node labels (NVIDIA's GPU feature discovery) for Gantry's GPU types. */
export const GPU_PRODUCTS: Record<string, string> = {
  'h100-80gb': 'NVIDIA-H100-80GB-HBM3',
  'h100-40gb-mig': 'NVIDIA-H100-80GB-HBM3-MIG-3g.40gb',
  'h200-140gb': 'NVIDIA-H200',
  'b200-192gb': 'NVIDIA-B200',
  'a100-80gb': 'NVIDIA-A100-SXM4-80GB',
};
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
export const GPU_RESOURCE = 'nvidia.com/gpu';
/** The image of the init container that fetches volume versions: any image with sh and curl serves (`--volume-fetcher-image`). */
export const DEFAULT_VOLUME_FETCHER = 'curlimages/curl:8.11.1';
/** Model servers may load weights for a long time before their health check passes: up to 30 minutes. */
const STARTUP_SECONDS = 30 * 60;

/** Kubernetes names: lowercase DNS labels. Gantry's ids are `dep_<hex>` and UUIDv7s, whose ends are random. */
function anchorName(deploymentId: string) {
  return `gantry-${deploymentId.slice(-12)}`;
}
export function revisionName(deploymentId: string, revisionId: string) {
  return `${anchorName(deploymentId)}-${revisionId.replace(/-/g, '').slice(-8)}`;
}

type Obj = { apiVersion: string; kind: string; metadata: Record<string, unknown>; [k: string]: unknown };

function labelsOf(owner: string, deploymentId: string, revisionId?: string): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.owner]: owner,
    [LABELS.deployment]: deploymentId,
    ...(revisionId ? { [LABELS.revision]: revisionId } : {}),
  };
}

export function anchor(namespace: string, owner: string, deploymentId: string, deploymentName: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: anchorName(deploymentId), namespace, labels: labelsOf(owner, deploymentId), annotations: { [ANNOTATIONS.name]: deploymentName } },
    data: { deployment: deploymentId },
  };
}

/** An owner reference to the anchor (its uid known once it exists). */
function ownedBy(deploymentId: string, anchorUid: string) {
  return [{ apiVersion: 'v1', kind: 'ConfigMap', name: anchorName(deploymentId), uid: anchorUid, blockOwnerDeletion: false, controller: false }];
}

export function service(namespace: string, owner: string, spec: RevisionSpec, anchorUid: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: anchorName(spec.deploymentId),
      namespace,
      labels: labelsOf(owner, spec.deploymentId),
      ownerReferences: ownedBy(spec.deploymentId, anchorUid),
    },
    spec: {
      selector: { [LABELS.managedBy]: MANAGED_BY, [LABELS.deployment]: spec.deploymentId },
      ports: [{ name: 'http', port: spec.port, targetPort: spec.port, protocol: 'TCP' }],
    },
  };
}

export function envSecret(namespace: string, owner: string, spec: RevisionSpec, anchorUid: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: revisionName(spec.deploymentId, spec.revisionId),
      namespace,
      labels: labelsOf(owner, spec.deploymentId, spec.revisionId),
      ownerReferences: ownedBy(spec.deploymentId, anchorUid),
    },
    type: 'Opaque',
    stringData: { ...spec.env, PORT: String(spec.port) },
  };
}

/** The image pull Secret for Gantry's registry, if the revision pulls from it (with the deployment's worker key). */
export function pullSecret(namespace: string, owner: string, spec: RevisionSpec, anchorUid: string): Obj | null {
  if (!spec.pullCredentials) return null;
  const registry = registryOf(spec.image);
  const { username, password } = spec.pullCredentials;
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: `${revisionName(spec.deploymentId, spec.revisionId)}-pull`,
      namespace,
      labels: labelsOf(owner, spec.deploymentId, spec.revisionId),
      ownerReferences: ownedBy(spec.deploymentId, anchorUid),
    },
    type: 'kubernetes.io/dockerconfigjson',
    stringData: { '.dockerconfigjson': JSON.stringify({ auths: { [registry]: { username, password, auth } } }) },
  };
}

/**
 * The script of the init container: each file of each mounted volume version fetched from
 * Gantry's storage with the worker key (which may read exactly the versions its deployment
 * mounts) into the pod's emptyDir for that mount, which the app container mounts read-only.
 */
function fetchScript(volumes: RevisionSpec['volumes']): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const lines = [
    'set -eu',
    'fetch() { mkdir -p "$(dirname "$2")"; curl -fsSL --retry 5 -H "Authorization: Bearer $TOGETHER_API_KEY" -o "$2" "$TOGETHER_API_BASE_URL/v1/storage/$1"; }',
  ];
  volumes.forEach((v, i) => {
    for (const f of v.source?.files ?? []) {
      const path = `${v.source!.prefix}/${f}`.split('/').map(encodeURIComponent).join('/');
      lines.push(`fetch ${quote(path)} ${quote(`/gantry-volumes/${i}/${f}`)}`);
    }
  });
  return lines.join('\n');
}

/** The revision's Deployment with `replicas` pods; a revision with more GPUs than a product label maps to none is the scheduler's to refuse. */
export function workload(
  namespace: string,
  owner: string,
  spec: RevisionSpec,
  replicas: number,
  anchorUid: string,
  fetcherImage = DEFAULT_VOLUME_FETCHER,
): Obj {
  const labels = labelsOf(owner, spec.deploymentId, spec.revisionId);
  const name = revisionName(spec.deploymentId, spec.revisionId);
  const resources: Record<string, string> = { cpu: String(spec.cpu), memory: `${spec.memoryGiB}Gi` };
  if (spec.gpuCount > 0) resources[GPU_RESOURCE] = String(spec.gpuCount);
  const product = GPU_PRODUCTS[spec.gpuType];
  const probe = spec.healthCheckPath ? { httpGet: { path: spec.healthCheckPath, port: spec.port } } : { tcpSocket: { port: spec.port } };
  const mounts = spec.volumes.map((v, i) => ({ name: `volume-${i}`, mountPath: v.mountPath, readOnly: true }));
  const volumeSpec = spec.volumes.length
    ? {
        volumes: spec.volumes.map((_, i) => ({ name: `volume-${i}`, emptyDir: {} })),
        initContainers: [
          {
            name: 'fetch-volumes',
            image: fetcherImage,
            command: ['sh', '-c', fetchScript(spec.volumes)],
            envFrom: [{ secretRef: { name } }],
            volumeMounts: spec.volumes.map((_, i) => ({ name: `volume-${i}`, mountPath: `/gantry-volumes/${i}` })),
            resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '256Mi' } },
          },
        ],
      }
    : {};
  const command = spec.command.length
    ? { command: spec.command, ...(spec.args.length ? { args: spec.args } : {}) }
    : spec.args.length
      ? { args: spec.args }
      : {};
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace,
      labels,
      annotations: { [ANNOTATIONS.port]: String(spec.port), [ANNOTATIONS.name]: spec.deploymentName },
      ownerReferences: ownedBy(spec.deploymentId, anchorUid),
    },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      // Gantry's rollout plan moves traffic between revisions; within one, replace pods one by one.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels, annotations: { [ANNOTATIONS.port]: String(spec.port), [ANNOTATIONS.name]: spec.deploymentName } },
        spec: {
          terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds,
          enableServiceLinks: false,
          automountServiceAccountToken: false,
          ...(product && spec.gpuCount > 0 ? { nodeSelector: { [GPU_PRODUCT_LABEL]: product } } : {}),
          tolerations: [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }],
          ...(spec.pullCredentials ? { imagePullSecrets: [{ name: `${name}-pull` }] } : {}),
          ...volumeSpec,
          containers: [
            {
              name: 'app',
              image: spec.image,
              ...command,
              ports: [{ name: 'http', containerPort: spec.port, protocol: 'TCP' }],
              envFrom: [{ secretRef: { name } }],
              ...(mounts.length ? { volumeMounts: mounts } : {}),
              resources: {
                requests: { ...resources, 'ephemeral-storage': `${spec.storageGiB}Gi` },
                limits: { ...resources, 'ephemeral-storage': `${spec.storageGiB}Gi` },
              },
              readinessProbe: { ...probe, periodSeconds: 2, failureThreshold: 3 },
              startupProbe: { ...probe, periodSeconds: 5, failureThreshold: STARTUP_SECONDS / 5 },
            },
          ],
        },
      },
    },
  };
}
