import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A replica runs as the leader of its own process group, so a signal reaches everything it
 * started (a `sh -c` wrapper's children, an engine's workers), not only the direct child. The
 * group is recorded in the replica's directory (pid and the kernel's start time, which tells a
 * reused pid apart), so a Gantry that was killed outright can stop what it left behind before
 * it starts anything on the same GPUs.
 */
const PID_FILE = 'replica.pid';

/** Signals one process; one that is already gone is no error. */
export function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Signals the whole group; a group that is already gone is no error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  return signalPid(-pgid, signal);
}

/**
 * Whether any process of the group still runs. A zombie does not count: it holds no memory or
 * GPU, only a pid until its parent reaps it (a sandbox's inner bwrap, reparented to the
 * machine's init when the outer one exits first, is reaped by that init).
 */
export function groupAlive(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

/** Whether the process ignores SIGTERM now (SIG_IGN: bwrap, or a child between fork and exec of a program that restores it). */
export function ignoresSigterm(pid: number): boolean {
  try {
    const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & (1n << 14n)) !== 0n; // SIGTERM is signal 15: bit 14
  } catch {
    return false;
  }
}

/** The running (not zombie) processes of the group. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const fields = statFields(Number(pid));
    // After the command name: [0] state, [2] process group.
    if (fields && fields[2] === String(pgid) && fields[0] !== 'Z') members.push(Number(pid));
  }
  return members;
}

/** The fields of /proc/<pid>/stat after the command name (field 3 on), or null where there is no such process. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or null where there is no such process. */
function startTime(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

export function recordGroup(dir: string, pid: number) {
  writeFileSync(join(dir, PID_FILE), JSON.stringify({ pid, start: startTime(pid) }), { mode: 0o600 });
}

export function forgetGroup(dir: string) {
  rmSync(join(dir, PID_FILE), { force: true });
}

/**
 * Kills the groups replicas left under `root` (`<deployment>/<replica>/replica.pid`) when their
 * Gantry died without stopping them, and answers how many there were. A pid whose process
 * started at another time is someone else's now and is left alone.
 */
export function killLeftoverGroups(root: string): number {
  if (!existsSync(root)) return 0;
  let killed = 0;
  for (const deployment of readdirSync(root, { withFileTypes: true })) {
    if (!deployment.isDirectory()) continue;
    for (const replica of readdirSync(join(root, deployment.name), { withFileTypes: true })) {
      if (replica.isDirectory() && killLeftoverGroup(join(root, deployment.name, replica.name))) killed++;
    }
  }
  return killed;
}

/** Kills the group recorded in `dir` (by `recordGroup`) if it still runs; answers whether it did. */
export function killLeftoverGroup(dir: string): boolean {
  const file = join(dir, PID_FILE);
  if (!existsSync(file)) return false;
  let killed = false;
  try {
    const { pid, start } = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; start: string | null };
    killed = start !== null && startTime(pid) === start && signalGroup(pid, 'SIGKILL');
  } catch {
    // A torn or foreign file: nothing to stop.
  }
  rmSync(file, { force: true });
  return killed;
}
