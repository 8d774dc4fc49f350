import { ReplicaDriver, type ReplicaDriverOptions } from '../replica-driver.js';
import type { RevisionSpec } from '../../contract/runtime.js';
import { killLeftoverGroups } from './process-group.js';
import { ProcessWorkload } from './process-workload.js';
import type { BwrapSandbox } from './sandbox.js';
import { REPLICA_PORTS } from './ports.js';

export type ProcessDriverOptions = ReplicaDriverOptions & {
  /** Variables every replica inherits (PATH and the like), below the deployment's own. */
  baseEnv?: Record<string, string>;
  log?: (msg: string) => void;
  /** Shuts each replica in (bubblewrap); without it replicas run as plain children of Gantry. */
  sandbox?: BwrapSandbox | null;
};

/**
 * Runs each replica as a child process of Gantry: `command` + `args` with `$(VAR)` expanded,
 * in its own working directory under `dir`, listening on a free port given in PORT (the
 * deployment's `port` is the container port; on this runtime the replica's address is
 * 127.0.0.1:$PORT instead).
 */
export class ProcessDriver extends ReplicaDriver {
  readonly kind = 'process' as const;
  readonly requiresCommand = true;

  constructor(private readonly processOptions: ProcessDriverOptions) {
    super(processOptions);
    // A Gantry killed outright (SIGKILL, OOM) left its replicas running: stop them before
    // anything starts, so no GPU is counted free while an orphan holds it.
    const killed = killLeftoverGroups(processOptions.dir);
    if (killed > 0) processOptions.log?.(`stopped ${killed} replica process group(s) a previous gantry serve left running`);
  }

  protected workload(_id: string, spec: RevisionSpec, dir: string) {
    return new ProcessWorkload(spec, dir, this.processOptions.baseEnv ?? {}, this.opts.clock, this.processOptions.sandbox ?? null, REPLICA_PORTS);
  }

  /** Replicas are Gantry's children: they stop with it, gracefully. */
  async close() {
    this.closed = true;
    await this.stopAll();
  }
}
