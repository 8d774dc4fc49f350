import type { Clock, Timer } from '../domain/clock.js';

/**
 * What a reconcile answers, as controller-runtime's `reconcile.Result`: nothing (done until
 * the next change), or come back after a while. A thrown error is retried with per-key
 * exponential backoff, except a TerminalError, which retrying cannot fix.
 */
export type Outcome = { requeueAfterMs?: number } | void;

/** A failure that retrying will not mend (controller-runtime's TerminalError): reported once, not retried. */
export class TerminalError extends Error {}

export interface WorkQueueOptions {
  clock: Clock;
  /** Keys processed at once; the rest wait their turn in arrival order. */
  maxConcurrent?: number;
  onError?: (key: string, err: unknown) => void;
  backoff?: { baseMs: number; maxMs: number };
}

/**
 * A keyed work queue in the manner of controller-runtime's: adding a key that is already
 * waiting merges with it; a key is never processed twice at once (one added while it runs is
 * processed again after); at most `maxConcurrent` keys run at once, so a resync of thousands of
 * deployments queues them instead of starting them all together.
 */
export class WorkQueue {
  private readonly waiting = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, Timer>();
  private readonly failures = new Map<string, number>();
  private readonly maxConcurrent: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly handler: (key: string) => Promise<Outcome>,
    private readonly o: WorkQueueOptions,
  ) {
    this.maxConcurrent = o.maxConcurrent ?? 4;
    this.backoff = o.backoff ?? { baseMs: 100, maxMs: 30_000 };
  }

  add(key: string) {
    if (this.stopped) return;
    this.timers.get(key)?.cancel();
    this.timers.delete(key);
    if (this.running.has(key)) this.dirty.add(key);
    else this.waiting.add(key);
    this.pump();
  }

  addAfter(key: string, ms: number) {
    if (this.stopped || this.timers.has(key)) return;
    this.timers.set(
      key,
      this.o.clock.setTimeout(() => {
        this.timers.delete(key);
        this.add(key);
      }, ms),
    );
  }

  /** Keys waiting for a free slot (not those running or scheduled for later). */
  get depth(): number {
    return this.waiting.size;
  }

  /** Stops taking work and waits for what runs to finish. */
  async stop() {
    this.stopped = true;
    this.waiting.clear();
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    while (this.running.size > 0) await new Promise<void>((r) => (this.wake = r));
  }

  private pump() {
    for (const key of this.waiting) {
      if (this.running.size >= this.maxConcurrent) return;
      this.waiting.delete(key);
      void this.process(key);
    }
  }

  private async process(key: string) {
    this.running.add(key);
    try {
      const outcome = await this.handler(key);
      this.failures.delete(key);
      if (outcome?.requeueAfterMs !== undefined) this.addAfter(key, outcome.requeueAfterMs);
    } catch (err) {
      this.o.onError?.(key, err);
      if (err instanceof TerminalError) this.failures.delete(key);
      else {
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        this.addAfter(key, Math.min(this.backoff.baseMs * 2 ** (n - 1), this.backoff.maxMs));
      }
    } finally {
      this.running.delete(key);
      if (this.running.size === 0) this.wake?.();
    }
    if (this.dirty.delete(key)) this.waiting.add(key);
    if (!this.stopped) this.pump();
  }
}
