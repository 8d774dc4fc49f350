import { createHash } from 'node:crypto';
import { ReplicaDriver, type ReplicaDriverOptions } from '../replica-driver.js';
import type { RevisionSpec } from '../../contract/runtime.js';
import { bodyFromInspect, containerBody, LABEL, type ContainerInfo } from './container-spec.js';
import { ContainerWorkload, type ContainerEngine } from './container-workload.js';
import { DockerApi } from './docker-api.js';
import { ImagePuller, type RegistryAuths } from './image-puller.js';

export type DockerDriverOptions = ReplicaDriverOptions & {
  /** DOCKER_HOST form: unix:///run/docker.sock, tcp://host:2375. */
  host: string;
  registryAuths?: RegistryAuths;
  /**
   * Names this Gantry's containers (label gantry.owner), so that two instances sharing one
   * engine never adopt each other's. Defaults to a hash of `dir`.
   */
  owner?: string;
  /** Owners this Gantry's containers had before (a single instance's dir hash, before it shared its database): adopted too. */
  formerOwners?: string[];
};

/**
 * Runs each replica as a container through the Docker Engine API (Docker, or Podman's
 * compatible service). Containers outlive Gantry: on start the driver adopts the running
 * containers labelled with its owner instead of starting duplicates, and `close` leaves them
 * running.
 */
export class DockerDriver extends ReplicaDriver implements ContainerEngine {
  readonly kind = 'docker' as const;
  readonly requiresCommand = false;
  readonly api: DockerApi;
  readonly images: ImagePuller;
  private readonly owner: string;

  private constructor(options: DockerDriverOptions) {
    super(options);
    this.api = new DockerApi(options.host);
    this.images = new ImagePuller(this.api, options.registryAuths);
    this.owner = options.owner ?? dirOwner(options.dir);
  }

  /** Connects to the engine (a clear error when it cannot) and adopts this owner's containers. */
  static async open(options: DockerDriverOptions): Promise<DockerDriver> {
    const driver = new DockerDriver(options);
    try {
      await driver.api.call('GET', '/version');
      await driver.adoptAll(options.formerOwners ?? []);
    } catch (err) {
      await driver.api.close();
      throw err;
    }
    return driver;
  }

  get isClosed() {
    return this.closed;
  }

  protected workload(id: string, spec: RevisionSpec) {
    return new ContainerWorkload(this, containerName(id), containerBody(spec, id, this.owner), null, spec.pullCredentials);
  }

  /** Stops watching; the containers keep running and are adopted by the next start. */
  async close() {
    this.closed = true;
    this.detachAll();
    await this.api.close();
  }

  private async adoptAll(formerOwners: string[]) {
    const list: { Id: string }[] = [];
    for (const owner of new Set([this.owner, ...formerOwners])) {
      const filters = JSON.stringify({ label: [`${LABEL.owner}=${owner}`] });
      list.push(...(await this.api.call<{ Id: string }[]>('GET', '/containers/json', { query: { all: true, filters } })).body);
    }
    for (const { Id } of list) {
      const { status, body: info } = await this.api.call<ContainerInfo>('GET', `/containers/${Id}/json`, {}, [404]);
      if (status === 404) continue;
      const labels = info.Config.Labels ?? {};
      const replicaId = labels[LABEL.replica];
      if (!info.State.Running || !replicaId) {
        // Exited while Gantry was away: the reconciler starts a replacement if one is needed.
        await this.api.call('DELETE', `/containers/${Id}`, { query: { force: true } }, [404]);
        continue;
      }
      const spec = specFromLabels(labels, info);
      const gpus = (labels[LABEL.gpus] ?? '').split(',').filter(Boolean).map(Number);
      this.add(replicaId, spec, gpus, new ContainerWorkload(this, containerName(replicaId), bodyFromInspect(info), Id));
    }
  }
}

/** The owner of a single instance's containers: a hash of its replicas dir. */
export function dirOwner(dir: string) {
  return createHash('sha256').update(dir).digest('hex').slice(0, 16);
}

function containerName(replicaId: string) {
  return `gantry-${replicaId}`;
}

/** Enough of an adopted container's revision to watch, probe and stop it. */
function specFromLabels(labels: Record<string, string>, info: ContainerInfo): RevisionSpec {
  return {
    deploymentId: labels[LABEL.deployment]!,
    deploymentName: labels[LABEL.deploymentName]!,
    revisionId: labels[LABEL.revision]!,
    image: labels[LABEL.image] ?? info.Config.Image,
    command: [],
    args: [],
    env: {},
    cpu: (info.HostConfig.NanoCpus ?? 0) / 1e9,
    memoryGiB: (info.HostConfig.Memory ?? 0) / 2 ** 30,
    storageGiB: 0,
    gpuType: labels[LABEL.gpuType] ?? 'none',
    gpuCount: (labels[LABEL.gpus] ?? '').split(',').filter(Boolean).length,
    port: Number(labels[LABEL.port]),
    healthCheckPath: labels[LABEL.healthCheckPath] ?? '',
    volumes: [],
    terminationGracePeriodSeconds: Number(labels[LABEL.gracePeriod] ?? 30),
  };
}
