import { systemClock, type Clock } from '../domain/clock.js';

/**
 * Workers long-polling a queue, oldest first, per queue key. A new job wakes one waiter (not
 * all: each wake-up costs a claim query). A version per key closes the gap between a worker's
 * empty claim and its wait: a job that arrived in between moved the version, so the wait
 * returns at once. (Entries stay once made, one per queue, so a version never repeats.)
 */
export class Waiters {
  private readonly byKey = new Map<string, { version: number; queue: (() => void)[] }>();

  constructor(private readonly clock: Clock = systemClock) {}

  version(key: string): number {
    return this.byKey.get(key)?.version ?? 0;
  }

  /** Resolves when woken, after `ms`, or when `signal` aborts; at once if `key` moved past `seen`. */
  wait(key: string, seen: number, ms: number, signal: AbortSignal): Promise<void> {
    const entry = this.entry(key);
    if (entry.version !== seen || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        timer.cancel();
        signal.removeEventListener('abort', done);
        const i = entry.queue.indexOf(done);
        if (i >= 0) entry.queue.splice(i, 1);
        resolve();
      };
      const timer = this.clock.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      entry.queue.push(done);
    });
  }

  /** `count` jobs became claimable on `key`: wakes as many waiters. */
  notify(key: string, count = 1) {
    const entry = this.entry(key);
    entry.version++;
    for (let i = 0; i < count && entry.queue.length; i++) entry.queue[0]!();
  }

  private entry(key: string) {
    let entry = this.byKey.get(key);
    if (!entry) this.byKey.set(key, (entry = { version: 0, queue: [] }));
    return entry;
  }
}
