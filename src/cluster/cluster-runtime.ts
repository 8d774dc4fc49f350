import type { Observed, RuntimePort, SpecDraft } from '../contract/ports.js';
import type { LogFilter, RuntimeDriver } from '../contract/runtime.js';
import { checkRunnable } from '../domain/deployment.js';
import type { Bus } from './bus.js';
import type { Observations } from './observations.js';

/**
 * The API's port to the runtime on any instance: the leader's own controller while this
 * instance leads, else the observations the leader shares. A change made through the API
 * reaches the leader's controller on the bus, wherever it was made.
 */
export class ClusterRuntime implements RuntimePort {
  /** The controller while this instance leads. */
  private leader: RuntimePort | null = null;

  constructor(
    private readonly observations: Observations,
    private readonly bus: Bus,
    private readonly runtime: Pick<RuntimeDriver, 'kind' | 'requiresCommand'>,
    private readonly leaderUrl: () => string | undefined,
  ) {
    bus.subscribe('changed', (id) => this.leader?.changed(id));
  }

  /** This instance leads with this controller from now on; null: it follows. */
  lead(controller: RuntimePort | null) {
    this.leader = controller;
  }

  observe(deploymentId: string): Observed {
    return this.leader ? this.leader.observe(deploymentId) : { replicas: this.observations.replicas(deploymentId) };
  }

  runningDeployments(): string[] {
    return this.leader ? this.leader.runningDeployments() : this.observations.deployments();
  }

  changed(deploymentId: string) {
    this.bus.publish('changed', deploymentId);
  }

  checkRunnable(draft: SpecDraft) {
    checkRunnable(this.runtime, draft);
  }

  /** Logs are read where the runtime is held; on another instance the API forwards the request there (`elsewhere`). */
  logs(deploymentId: string, filter: LogFilter): Promise<string[]> {
    return this.leader ? this.leader.logs(deploymentId, filter) : Promise.resolve([]);
  }

  followLogs(deploymentId: string, filter: LogFilter, onLines: (lines: string[]) => void): () => void {
    return this.leader ? this.leader.followLogs(deploymentId, filter, onLines) : () => {};
  }

  elsewhere(): string | undefined {
    return this.leader ? undefined : this.leaderUrl();
  }
}
