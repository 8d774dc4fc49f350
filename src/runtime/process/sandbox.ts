import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { delimiter, join } from 'node:path';

/** The uid and gid a sandboxed replica runs as (inside its user namespace): nobody. */
const SANDBOX_ID = 65534;

/** What a sandboxed replica may see besides the read-only system. */
export interface SandboxMounts {
  /** Its working directory: the only writable place (TMPDIR is `.tmp` in it). */
  dir: string;
  /** Directories shown read-only (its volumes' versions), even where they lie in a hidden folder. */
  readOnly: string[];
}

/**
 * Runs each process replica in bubblewrap (Debian's `bubblewrap`): its own user namespace (uid
 * nobody, no capabilities), PID namespace (it sees only its own processes, so no other
 * replica's environment), IPC and UTS namespaces, and a mount namespace where the machine is
 * read-only and Gantry's data dir (keys, database, stored files, other replicas) is an empty
 * tmpfs; only its own directory is writable (TMPDIR is a folder in it) and its volumes are shown
 * read-only. It shares the
 * host network (replicas listen on 127.0.0.1). It dies with Gantry (`--die-with-parent`), and
 * stays in the process group Gantry signals, so SIGTERM still reaches the workload. Needs
 * coreutils' `env` 8.31 or newer (`--ignore-signal`, `--default-signal`).
 *
 * Files outside the data dir stay readable with the permissions of Gantry's own user: run
 * Gantry as a dedicated user to keep the rest of the machine private (docs/security.md).
 */
export class BwrapSandbox {
  constructor(
    private readonly bwrap: string,
    /** Folders no replica may see: Gantry's data dir. */
    private readonly hidden: string[],
    /** Files in them every replica may read (the self-signed certificate it is told to trust). */
    private readonly shown: string[] = [],
  ) {}

  /** The command line that runs `cmd args` in the sandbox. */
  wrap(cmd: string, args: string[], m: SandboxMounts): { cmd: string; args: string[] } {
    const sandbox = [
      '--unshare-user',
      '--uid',
      String(SANDBOX_ID),
      '--gid',
      String(SANDBOX_ID),
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-cgroup-try',
      '--die-with-parent',
      '--ro-bind',
      '/',
      '/',
      '--dev',
      '/dev',
      // A minimal /dev has no GPUs: the NVIDIA devices are passed through (CUDA_VISIBLE_DEVICES picks among them).
      ...nvidiaDevices().flatMap((d) => ['--dev-bind', d, d]),
      '--proc',
      '/proc',
      ...this.hidden.flatMap((h) => ['--tmpfs', h]),
      '--bind',
      m.dir,
      m.dir,
      // The machine's /tmp stays visible (read-only, like the rest: a command may name files there);
      // temporary files go to a folder of the replica's own.
      '--dir',
      join(m.dir, '.tmp'),
      '--setenv',
      'TMPDIR',
      join(m.dir, '.tmp'),
      ...[...this.shown, ...m.readOnly].flatMap((p) => ['--ro-bind', p, p]),
      '--chdir',
      m.dir,
      '--',
    ];
    // bwrap itself ignores SIGTERM (it does not pass signals on, and dying would kill the sandbox
    // at once through --die-with-parent), while the workload gets SIGTERM's default back: Gantry
    // signals the whole process group, so the workload alone sees SIGTERM and has its grace period.
    return { cmd: 'env', args: ['--ignore-signal=TERM', this.bwrap, ...sandbox, 'env', '--default-signal=TERM', cmd, ...args] };
  }
}

function nvidiaDevices(): string[] {
  try {
    return readdirSync('/dev')
      .filter((d) => d.startsWith('nvidia'))
      .map((d) => join('/dev', d));
  } catch {
    return [];
  }
}

/** `bwrap` on the PATH, or null. */
export function findBwrap(path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    const candidate = join(dir, 'bwrap');
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** Whether bubblewrap can make its namespaces here (a container may forbid user namespaces): null if so, else why not. */
export function probeBwrap(bwrap: string): string | null {
  const probe = new BwrapSandbox(bwrap, []).wrap('true', [], { dir: '/', readOnly: [] });
  const r = spawnSync(probe.cmd, probe.args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0) return null;
  return (r.stderr || r.error?.message || `exit ${r.status}`).trim();
}
