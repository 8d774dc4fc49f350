import { expandVars } from '../expand-vars.js';
import type { RevisionSpec } from '../../contract/runtime.js';

/** The part of the Engine API's container-create body Gantry sets. */
export interface CreateBody {
  Image: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env: string[];
  Labels: Record<string, string>;
  ExposedPorts: Record<string, object>;
  HostConfig: {
    PortBindings: Record<string, { HostIp: string; HostPort: string }[]>;
    NanoCpus: number;
    Memory: number;
    Binds: string[];
    DeviceRequests: { Driver: string; DeviceIDs: string[]; Capabilities: string[][] }[];
    Init: boolean;
  };
}

/** Labels on every container Gantry creates: how it finds and adopts them after a restart. */
export const LABEL = {
  owner: 'gantry.owner',
  deployment: 'gantry.deployment',
  deploymentName: 'gantry.deployment-name',
  revision: 'gantry.revision',
  replica: 'gantry.replica',
  image: 'gantry.image',
  port: 'gantry.port',
  healthCheckPath: 'gantry.health-check-path',
  gracePeriod: 'gantry.grace-period-seconds',
  gpuType: 'gantry.gpu-type',
  gpus: 'gantry.gpus',
} as const;

const GPU_ENV = 'NVIDIA_VISIBLE_DEVICES';

/**
 * The container for replica `replicaId` of `spec`. As in Kubernetes, `command` replaces the
 * image's entrypoint and `args` its cmd, both with `$(VAR)` expanded from the environment. The
 * deployment's `port` is published on a free loopback port of the host; PORT tells the
 * workload which port that is inside the container.
 */
export function containerBody(spec: RevisionSpec, replicaId: string, owner: string): CreateBody {
  const env = { ...spec.env, PORT: String(spec.port) };
  const expand = (a: string) => expandVars(a, env);
  const port = `${spec.port}/tcp`;
  return {
    Image: spec.image,
    ...(spec.command.length ? { Entrypoint: spec.command.map(expand) } : {}),
    ...(spec.args.length ? { Cmd: spec.args.map(expand) } : {}),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      [LABEL.owner]: owner,
      [LABEL.deployment]: spec.deploymentId,
      [LABEL.deploymentName]: spec.deploymentName,
      [LABEL.revision]: spec.revisionId,
      [LABEL.replica]: replicaId,
      [LABEL.image]: spec.image,
      [LABEL.port]: String(spec.port),
      [LABEL.healthCheckPath]: spec.healthCheckPath,
      [LABEL.gracePeriod]: String(spec.terminationGracePeriodSeconds),
      [LABEL.gpuType]: spec.gpuType,
    },
    ExposedPorts: { [port]: {} },
    HostConfig: {
      PortBindings: { [port]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
      NanoCpus: Math.round(spec.cpu * 1e9),
      Memory: Math.round(spec.memoryGiB * 2 ** 30),
      Binds: spec.volumes.map((v) => `${v.hostPath}:${v.mountPath}:ro`),
      DeviceRequests: [],
      // A small init as PID 1 (docker run --init: tini, or Podman's catatonit) passes SIGTERM on
      // and reaps zombies: a workload that is PID 1 itself ignores SIGTERM until it installs a
      // handler, so a replica stopped as it starts would wait out its whole grace period.
      Init: true,
    },
  };
}

/**
 * The body with these GPUs: NVIDIA device requests (the NVIDIA container toolkit maps them)
 * and NVIDIA_VISIBLE_DEVICES, empty for a CPU-only replica so an image defaulting it to `all`
 * sees no GPU.
 */
export function withGpus(body: CreateBody, gpus: number[]): CreateBody {
  return {
    ...body,
    Env: [...body.Env.filter((e) => !e.startsWith(`${GPU_ENV}=`)), `${GPU_ENV}=${gpus.join(',')}`],
    Labels: { ...body.Labels, [LABEL.gpus]: gpus.join(',') },
    HostConfig: {
      ...body.HostConfig,
      DeviceRequests: gpus.length ? [{ Driver: 'nvidia', DeviceIDs: gpus.map(String), Capabilities: [['gpu']] }] : [],
    },
  };
}

/** What `GET /containers/{id}/json` answers, as far as Gantry reads it. */
export interface ContainerInfo {
  Id: string;
  State: { Running: boolean; ExitCode: number; OOMKilled: boolean };
  Config: { Image: string; Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; Labels?: Record<string, string> | null };
  HostConfig: Partial<CreateBody['HostConfig']> & { PortBindings?: CreateBody['HostConfig']['PortBindings'] | null };
  NetworkSettings: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null };
}

/**
 * The create body of a container found running after a restart, so that it can be replaced
 * the same way when it exits (its environment holds resolved secrets; it stays in memory).
 */
export function bodyFromInspect(info: ContainerInfo): CreateBody {
  const labels = info.Config.Labels ?? {};
  const port = `${labels[LABEL.port]}/tcp`;
  return {
    Image: labels[LABEL.image] ?? info.Config.Image,
    ...(info.Config.Entrypoint?.length ? { Entrypoint: info.Config.Entrypoint } : {}),
    ...(info.Config.Cmd?.length ? { Cmd: info.Config.Cmd } : {}),
    Env: info.Config.Env ?? [],
    Labels: labels,
    ExposedPorts: { [port]: {} },
    HostConfig: {
      PortBindings: { [port]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
      NanoCpus: info.HostConfig.NanoCpus ?? 0,
      Memory: info.HostConfig.Memory ?? 0,
      Binds: info.HostConfig.Binds ?? [],
      DeviceRequests: info.HostConfig.DeviceRequests ?? [],
      Init: true,
    },
  };
}
