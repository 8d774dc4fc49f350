import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expandVars } from '../expand-vars.js';
import type { ReplicaLog } from '../replica-log.js';
import { StartError, type Workload } from '../replica.js';
import type { RevisionSpec } from '../../contract/runtime.js';
import type { Clock } from '../../domain/clock.js';
import { forgetGroup, groupAlive, groupMembers, ignoresSigterm, recordGroup, signalGroup, signalPid } from './process-group.js';
import type { BwrapSandbox } from './sandbox.js';
import type { PortRange } from './ports.js';

/**
 * A replica as a child process: `command` + `args` with `$(VAR)` expanded, in the replica's
 * directory, listening on a free port given in PORT.
 */
export class ProcessWorkload implements Workload {
  private child: ChildProcess | null = null;
  private stopped = false;

  constructor(
    private readonly spec: RevisionSpec,
    private readonly dir: string,
    /** Variables every replica inherits (PATH and the like), below the deployment's own. */
    private readonly baseEnv: Record<string, string>,
    private readonly clock: Clock,
    /** Where the replica runs shut in; null: as a plain child of Gantry (`--sandbox none`). */
    private readonly sandbox: BwrapSandbox | null,
    private readonly ports: PortRange,
  ) {}

  async start(gpus: number[], log: ReplicaLog, onExit: (how: string) => void): Promise<string> {
    const port = await this.ports.take();
    try {
      return this.spawn(port, gpus, log, (how) => {
        this.ports.release(port);
        onExit(how);
      });
    } catch (err) {
      this.ports.release(port);
      throw err;
    }
  }

  private spawn(port: number, gpus: number[], log: ReplicaLog, onExit: (how: string) => void): string {
    if (this.stopped) throw new StartError('Stopped', 'the replica was stopped while starting');
    const env: Record<string, string> = {
      ...this.baseEnv,
      ...this.spec.env,
      PORT: String(port),
      // An empty list hides every GPU from CUDA: a CPU-only replica sees none.
      CUDA_VISIBLE_DEVICES: gpus.join(','),
    };
    this.linkVolumes();
    const [command, ...commandArgs] = [...this.spec.command, ...this.spec.args].map((a) => expandVars(a, env));
    if (!command) throw new StartError('InvalidCommand', 'the process runtime needs a command');
    const { cmd, args } = this.sandbox
      ? this.sandbox.wrap(command, commandArgs, { dir: this.dir, readOnly: this.spec.volumes.map((v) => v.hostPath) })
      : { cmd: command, args: commandArgs };
    let child: ChildProcess;
    try {
      // Its own process group (detached), so stop() and a crash reach everything it started.
      child = spawn(cmd, args, { cwd: this.dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      // Node's message would quote the offending argument or variable, which may be a secret.
      throw new StartError(
        'InvalidSpec',
        `cannot start ${command}: its arguments or environment are not valid (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    this.child = child;
    if (child.pid !== undefined) recordGroup(this.dir, child.pid);
    // Output goes to the log as fast as the disk takes it: a full write buffer pauses the pipe.
    for (const out of [child.stdout!, child.stderr!]) {
      out.on('data', (d: Buffer) => {
        if (!log.write(d)) {
          out.pause();
          log.onDrain(() => out.resume());
        }
      });
    }
    let ended = false;
    const end = (how: string) => {
      if (ended) return;
      ended = true;
      this.child = null;
      // What it left running (a wrapper's children) goes with it.
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      forgetGroup(this.dir);
      onExit(how);
    };
    child.on('error', (err) => end(`cannot start ${command}: ${err.message}`));
    child.on('exit', (code, signal) => end(signal ? `killed by ${signal}` : `exited with code ${code}`));
    return `127.0.0.1:${port}`;
  }

  /**
   * A process has no mount namespace: each volume appears at its mount path taken relative to
   * the working directory (`/models` → `./models`), a symlink to the version's directory.
   */
  private linkVolumes() {
    for (const v of this.spec.volumes) {
      const at = join(this.dir, v.mountPath);
      if (existsSync(at)) continue;
      mkdirSync(dirname(at), { recursive: true });
      symlinkSync(v.hostPath, at);
    }
  }

  async stop(graceSeconds: number) {
    this.stopped = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    const pgid = child.pid!;
    // SIGTERM once to each process of the group that would receive it, now and as processes join
    // or take their final program: a sandbox's workload starts a moment after bwrap (which, like
    // the workload until it execs, ignores SIGTERM; a signal then would be lost).
    const signaled = new Set<number>();
    const terminate = () => {
      for (const pid of groupMembers(pgid)) if (!signaled.has(pid) && !ignoresSigterm(pid) && signalPid(pid, 'SIGTERM')) signaled.add(pid);
    };
    terminate();
    const late = this.clock.setInterval(terminate, 100);
    const kill = this.clock.setTimeout(() => signalGroup(pgid, 'SIGKILL'), graceSeconds * 1000);
    await gone;
    late.cancel();
    kill.cancel();
    // The leader is gone; anything of its group still there is killed with it, and waited for
    // (a sandbox's inner processes go a moment after its outer bwrap): stopped means gone.
    signalGroup(pgid, 'SIGKILL');
    for (let i = 0; i < 50 && groupAlive(pgid); i++) await this.clock.sleep(20);
  }
}
