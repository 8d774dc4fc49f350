/**
 * A keyed work queue in the manner of controller-runtime: adding a key that is already
 * waiting merges with it; a key is never processed twice at once (one added while it runs is
 * processed again after); a failure retries with per-key exponential backoff.
 */
export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export type Outcome = { requeueAfterMs?: number } | void;

export class WorkQueue {
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, unknown>();
  private readonly failures = new Map<string, number>();
  private stopped = false;
  private inFlight = 0;
  private wake: (() => void) | null = null;

  constructor(
    private readonly handler: (key: string) => Promise<Outcome>,
    private readonly scheduler: Scheduler = realScheduler,
    private readonly onError: (key: string, err: unknown) => void = () => {},
    private readonly backoff = { baseMs: 100, maxMs: 30_000 },
  ) {}

  add(key: string) {
    if (this.stopped) return;
    const timer = this.timers.get(key);
    if (timer !== undefined) {
      this.scheduler.clearTimeout(timer);
      this.timers.delete(key);
    }
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    void this.process(key);
  }

  addAfter(key: string, ms: number) {
    if (this.stopped || this.timers.has(key)) return;
    this.timers.set(
      key,
      this.scheduler.setTimeout(() => {
        this.timers.delete(key);
        this.add(key);
      }, ms),
    );
  }

  /** Stops taking work and waits for what runs to finish. */
  async stop() {
    this.stopped = true;
    for (const t of this.timers.values()) this.scheduler.clearTimeout(t);
    this.timers.clear();
    while (this.inFlight > 0) await new Promise<void>((r) => (this.wake = r));
  }

  private async process(key: string) {
    this.running.add(key);
    this.inFlight++;
    try {
      const outcome = await this.handler(key);
      this.failures.delete(key);
      if (outcome?.requeueAfterMs !== undefined) this.addAfter(key, outcome.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.onError(key, err);
      this.addAfter(key, Math.min(this.backoff.baseMs * 2 ** (n - 1), this.backoff.maxMs));
    } finally {
      this.running.delete(key);
      this.inFlight--;
      if (this.inFlight === 0) this.wake?.();
    }
    if (this.dirty.delete(key)) this.add(key);
  }
}
