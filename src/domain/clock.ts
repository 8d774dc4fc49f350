/** A pending timer. Cancelling one that has fired or was cancelled does nothing. */
export interface Timer {
  cancel(): void;
}

/**
 * The one seam for time: the wall clock and timers come through this interface, never from
 * `Date.now()`, `new Date()` or the timer globals (a lint rule enforces it), so tests step a
 * TestClock instead of sleeping (as pg-boss's clock.ts does). `systemClock` is the real one.
 */
export interface Clock {
  now(): Date;
  /** Milliseconds since the epoch: `now().getTime()` without the allocation. */
  nowMs(): number;
  /** Runs `fn` once after `ms`. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Runs `fn` every `ms` until cancelled; it never keeps the process alive by itself. */
  setInterval(fn: () => void, ms: number): Timer;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  nowMs: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  every?: number;
}

/**
 * A clock that moves only when told: `advance(ms)` runs every timer falling due in that time,
 * in order, letting promises settle after each, so a test of timeouts, retries and periodic
 * chores takes no real time and always sees the same order.
 */
export class TestClock implements Clock {
  private ms: number;
  private seq = 0;
  private readonly pending = new Set<Pending>();

  constructor(start: Date | number = Date.UTC(2026, 0, 1)) {
    this.ms = typeof start === 'number' ? start : start.getTime();
  }

  now() {
    return new Date(this.ms);
  }

  nowMs() {
    return this.ms;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add({ at: this.ms + Math.max(0, ms), seq: this.seq++, fn });
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add({ at: this.ms + ms, seq: this.seq++, fn, every: Math.max(1, ms) });
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = this.setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => (t.cancel(), reject(signal.reason)), { once: true });
    });
  }

  /** Moves time on by `ms`, running what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.ms + ms;
    for (;;) {
      await settle();
      const next = [...this.pending].filter((p) => p.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.ms = next.at;
      if (next.every) next.at += next.every;
      else this.pending.delete(next);
      next.fn();
    }
    this.ms = end;
    await settle();
  }

  /** Timers not yet run, for tests that check nothing is left scheduled. */
  get timers(): number {
    return this.pending.size;
  }

  private add(p: Pending): Timer {
    this.pending.add(p);
    return { cancel: () => this.pending.delete(p) };
  }
}

/** Lets promise callbacks and I/O callbacks already queued run (a real macrotask turn). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
