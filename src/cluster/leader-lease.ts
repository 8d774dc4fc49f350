import type { Clock, Timer } from '../domain/clock.js';
import type { ClusterStore, LeaseRecord } from '../store/cluster-store.js';

export interface LeaderLeaseOptions {
  store: ClusterStore;
  clock: Clock;
  /** This process (unique per process: two instances sharing a data dir are still two holders). */
  holder: string;
  /** This instance's URL, recorded with the lease so others can name the leader. */
  url: () => string;
  /** How long a lease lasts without a renewal (`--leader-lease-seconds`). */
  leaseMs: number;
  /**
   * Whether the holder is known to be gone (a process of this machine that no longer exists):
   * then there is nothing to wait for, as after a restart of a lone instance.
   */
  holderGone?: (holder: string) => Promise<boolean>;
  log?: (msg: string, fields: object) => void;
}

const LEASE_NAME = 'controller';

/**
 * Leader election on the store, as controller-runtime's leaderelection does it with a Lease
 * object, on a row instead (docs/architecture.md, "Several instances" says why not an advisory
 * lock). The leader bumps `renewals` every third of the lease. A candidate takes the lease by
 * compare-and-set once it has seen the same `(term, renewals)` for a whole lease by its own
 * clock, so no two machines' clocks are ever compared.
 *
 * Fencing: a leader acts only while `holds()` is true, which ends a quarter lease before any
 * candidate can take over: the candidate's lease starts no earlier than it saw the leader's
 * last renewal, which was sent after the leader started timing it. A leader that stalls
 * (SIGSTOP, a hung database) finds `holds()` false the moment it runs again, before it acts.
 */
export class LeaderLease {
  private term: number | null = null;
  /** Until when (local ms) this instance may act as leader. */
  private validUntil = 0;
  private seen: { lease: LeaseRecord; atMs: number } | null = null;
  private leading = false;
  private timer: Timer | null = null;
  private stepping: Promise<void> | null = null;
  private readonly listeners: ((leading: boolean) => void)[] = [];

  constructor(private readonly o: LeaderLeaseOptions) {}

  /** Whether this instance may act as leader now. */
  holds(): boolean {
    return this.term !== null && this.o.clock.nowMs() < this.validUntil;
  }

  /** The leader's URL as last read (this instance's own when it leads); undefined when none is known. */
  leaderUrl(): string | undefined {
    if (this.holds()) return this.o.url();
    return this.seen?.lease.holder_url ?? undefined;
  }

  /** Called with true when this instance becomes leader and false when it stops being one. */
  onChange(listener: (leading: boolean) => void) {
    this.listeners.push(listener);
  }

  /** Tries once at once (so a lone instance leads before it serves), then keeps trying and renewing. */
  async start() {
    await this.step();
    this.timer = this.o.clock.setInterval(() => void this.tick(), this.renewMs());
  }

  /** Stops renewing; a held lease is given up so another instance takes over at once. */
  async stop() {
    this.timer?.cancel();
    this.timer = null;
    await this.stepping;
    const term = this.term;
    this.term = null;
    this.emit();
    if (term !== null) await this.o.store.releaseLease(LEASE_NAME, this.o.holder, term).catch(() => {});
  }

  private renewMs() {
    return Math.max(100, Math.floor(this.o.leaseMs / 3));
  }

  /** One election step: renew, or look and take over (the timer calls it every third of the lease). */
  async tick() {
    // A step that hangs (the database unreachable) must not keep an expired leader acting.
    this.emit();
    if (this.stepping) return;
    this.stepping = this.step()
      .catch((err: Error) => this.o.log?.('leader election step failed', { error: err.message }))
      .finally(() => (this.stepping = null));
    await this.stepping;
  }

  private async step(): Promise<void> {
    const started = this.o.clock.nowMs();
    if (this.term !== null) {
      if (await this.o.store.renewLease(LEASE_NAME, this.o.holder, this.term)) this.validUntil = started + this.validityMs();
      else {
        this.o.log?.('leader lease lost to another instance', { term: this.term });
        this.term = null;
      }
      this.emit();
      return;
    }
    const lease = await this.o.store.lease(LEASE_NAME);
    const readAt = this.o.clock.nowMs();
    if (!lease) {
      // The first instance ever: make the row and try again at once.
      await this.o.store.createLease(LEASE_NAME);
      return this.step();
    }
    const unchanged = this.seen && sameLease(this.seen.lease, lease);
    if (!unchanged) this.seen = { lease, atMs: readAt };
    const expired = lease.holder === null || (unchanged && readAt - this.seen!.atMs >= this.o.leaseMs) || ((await this.o.holderGone?.(lease.holder)) ?? false);
    if (expired && (await this.o.store.takeLease(LEASE_NAME, lease, this.o.holder, this.o.url()))) {
      this.term = lease.term + 1;
      this.validUntil = started + this.validityMs();
      this.seen = null;
      this.o.log?.('leader lease taken', { term: this.term, previous: lease.holder });
    }
    this.emit();
  }

  /** A quarter lease short of the lease: the time between checking holds() and acting stays inside it. */
  private validityMs() {
    return this.o.leaseMs - Math.floor(this.o.leaseMs / 4);
  }

  private emit() {
    const leading = this.holds();
    if (leading === this.leading) return;
    this.leading = leading;
    for (const l of this.listeners) l(leading);
  }
}

function sameLease(a: LeaseRecord, b: LeaseRecord) {
  return a.holder === b.holder && a.term === b.term && a.renewals === b.renewals;
}
