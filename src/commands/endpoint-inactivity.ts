import type { Clock } from '../domain/clock.js';
import type { CommandContext } from './context.js';
import { updateEndpoint } from './endpoints.js';
import type { EndpointEnv } from '../endpoints/endpoint-env.js';
import type { Traffic } from '../gateway/traffic.js';
import { every } from '../domain/periodic.js';

/**
 * Stops endpoints that set `inactive_timeout` once that many minutes pass without a request
 * (counted from the last request, or from when the endpoint was last changed, e.g. started).
 * An endpoint with a request in flight is never stopped.
 */
export class InactivityWatcher {
  private stopTimer = () => {};

  constructor(
    private readonly o: {
      ctx: CommandContext;
      env: EndpointEnv;
      traffic: Traffic;
      clock: Clock;
      intervalMs?: number;
      log?: (msg: string, fields: object) => void;
    },
  ) {}

  start() {
    this.stopTimer = every(
      this.o.clock,
      this.o.intervalMs ?? 30_000,
      () => this.sweep(),
      (err) => this.o.log?.('inactivity sweep failed', { error: err.message }),
    );
  }

  stop() {
    this.stopTimer();
  }

  /** Stops every endpoint idle past its timeout; answers their ids. */
  async sweep(): Promise<string[]> {
    const now = this.o.clock.nowMs();
    const stopped: string[] = [];
    for (const e of await this.o.ctx.store.endpoints.all()) {
      const minutes = e.settings.inactive_timeout;
      if (e.state !== 'STARTED' || !minutes || this.o.traffic.inFlight(e.deployment_id) > 0) continue;
      const last = Math.max(this.o.traffic.lastActivityMs(e.deployment_id), Date.parse(e.updated_at));
      if (now - last < minutes * 60_000) continue;
      await updateEndpoint(this.o.ctx, this.o.env, { projectId: e.project_id, projectName: '', keyId: 'inactivity' }, e.id, { state: 'STOPPED' });
      this.o.log?.('endpoint stopped after inactivity', { endpoint: e.name, inactive_timeout_minutes: minutes });
      stopped.push(e.id);
    }
    return stopped;
  }
}
