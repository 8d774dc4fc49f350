import { createServer } from 'node:net';

/**
 * Ports for process replicas, from a range below the kernel's ephemeral ports (32768–60999 on
 * Linux): the kernel never hands these out on its own, so the port checked free here cannot be
 * taken as the source port of some outgoing connection before the replica binds it, as a port
 * from `listen(0)` could. Ports handed out stay reserved until released; a port another program
 * holds is skipped. (Two Gantry instances on one machine could still pick the same free port at
 * once; the loser's replica fails to bind, exits and is restarted on another port.)
 */
export class PortRange {
  private readonly taken = new Set<number>();
  private next: number;

  constructor(
    private readonly first = 20_000,
    private readonly last = 32_000,
    /** Where to start looking, so instances sharing a machine spread over the range. */
    start = first,
  ) {
    this.next = start;
  }

  /** A port free now and not handed out before (until released). */
  async take(): Promise<number> {
    const size = this.last - this.first + 1;
    for (let tried = 0; tried < size; tried++) {
      const port = this.next;
      this.next = port === this.last ? this.first : port + 1;
      if (this.taken.has(port) || !(await bindable(port))) continue;
      this.taken.add(port);
      return port;
    }
    throw new Error(`no free port left in ${this.first}–${this.last}`);
  }

  release(port: number) {
    this.taken.delete(port);
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The one range of this Gantry process, shared by its drivers; processes sharing a machine start at different places in it. */
export const REPLICA_PORTS = new PortRange(20_000, 32_000, 20_000 + (process.pid % 12_000));
