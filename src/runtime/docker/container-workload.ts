import { existsSync, statSync } from 'node:fs';
import type { ReplicaLog } from '../replica-log.js';
import { StartError, type Workload } from '../replica.js';
import type { DockerApi } from './docker-api.js';
import { LABEL, withGpus, type ContainerInfo, type CreateBody } from './container-spec.js';
import type { ImagePuller } from './image-puller.js';
import { LogFrames } from './log-frames.js';

/** What the docker driver shares with its containers. */
export interface ContainerEngine {
  api: DockerApi;
  images: ImagePuller;
  /** True once the driver has closed: its watches end without counting as exits. */
  readonly isClosed: boolean;
}

/**
 * A replica as a container. Each run is a fresh container (as the kubelet does), so its log
 * stream starts at its first line; the exited one is removed first. An adopted container
 * (found running after a Gantry restart) is watched as it is until it exits.
 */
export class ContainerWorkload implements Workload {
  private stopped = false;
  private pending: Promise<unknown> = Promise.resolve();
  private readonly watch = new AbortController();

  constructor(
    private readonly engine: ContainerEngine,
    private readonly name: string,
    private body: CreateBody,
    private containerId: string | null = null,
    private readonly pullCredentials?: { username: string; password: string },
  ) {}

  start(gpus: number[], log: ReplicaLog, onExit: (how: string) => void): Promise<string> {
    const run = this.run(gpus, log, onExit);
    this.pending = run.catch(() => undefined);
    return run;
  }

  async stop(graceSeconds: number) {
    this.stopped = true;
    await this.pending;
    const id = this.containerId;
    if (id) {
      // The engine sends SIGTERM, then SIGKILL once `t` seconds have passed.
      await this.engine.api.call('POST', `/containers/${id}/stop`, { query: { t: graceSeconds } }, [304, 404]);
      await this.engine.api.call('DELETE', `/containers/${id}`, { query: { force: true } }, [404]);
    }
    this.watch.abort();
  }

  private async run(gpus: number[], log: ReplicaLog, onExit: (how: string) => void): Promise<string> {
    const { api } = this.engine;
    let info = this.containerId ? await this.inspect(this.containerId) : null;
    let since = 0;
    if (info?.State.Running) {
      // Adopted: its output from when Gantry last wrote the log on (seconds: the engine's resolution).
      if (existsSync(log.path)) since = Math.floor(statSync(log.path).mtimeMs / 1000);
    } else {
      if (this.containerId) await api.call('DELETE', `/containers/${this.containerId}`, { query: { force: true } }, [404]);
      await this.engine.images.ensure(this.body.Image, this.pullCredentials);
      if (this.stopped) throw new StartError('Stopped', 'the replica was stopped while starting');
      this.body = withGpus(this.body, gpus);
      const created = await api.call<{ Id: string }>('POST', '/containers/create', { query: { name: this.name }, body: this.body });
      this.containerId = created.body.Id;
      await api.call('POST', `/containers/${this.containerId}/start`, {}, [304]);
      info = await this.inspect(this.containerId);
    }
    const id = this.containerId!;
    if (!info?.State.Running) {
      // Exited at once: the replica counts it as a crash like any later exit.
      onExit(exitMessage(info));
      return '';
    }
    const port = `${this.body.Labels[LABEL.port]}/tcp`;
    const hostPort = info.NetworkSettings.Ports?.[port]?.[0]?.HostPort;
    if (!hostPort) throw new StartError('PortNotPublished', `the engine did not publish container port ${port}`);
    void this.follow(id, log, since);
    void this.waitForExit(id, onExit);
    return `127.0.0.1:${hostPort}`;
  }

  private async inspect(id: string): Promise<ContainerInfo | null> {
    const res = await this.engine.api.call<ContainerInfo>('GET', `/containers/${id}/json`, {}, [404]);
    return res.status === 404 ? null : res.body;
  }

  /** Copies the container's output into the replica's log until the container stops. */
  private async follow(id: string, log: ReplicaLog, since: number) {
    try {
      const stream = await this.engine.api.stream('GET', `/containers/${id}/logs`, {
        query: { follow: true, stdout: true, stderr: true, since },
        signal: this.watch.signal,
      });
      const frames = new LogFrames();
      for await (const chunk of stream) for (const payload of frames.push(chunk as Buffer)) log.write(payload);
    } catch {
      // Aborted on stop, or the engine went away: the exit watch reports what matters.
    }
  }

  private async waitForExit(id: string, onExit: (how: string) => void) {
    let how: string;
    try {
      await this.engine.api.call('POST', `/containers/${id}/wait`, { query: { condition: 'not-running' }, signal: this.watch.signal, long: true });
      how = exitMessage(await this.inspect(id));
    } catch (err) {
      how = `lost the container: ${(err as Error).message}`;
    }
    if (!this.stopped && !this.engine.isClosed) onExit(how);
  }
}

function exitMessage(info: ContainerInfo | null): string {
  if (!info) return 'the container was removed';
  return info.State.OOMKilled ? `OOMKilled: exited with code ${info.State.ExitCode}` : `exited with code ${info.State.ExitCode}`;
}
