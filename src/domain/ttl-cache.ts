import { systemClock, type Clock } from './clock.js';
/**
 * Values looked up on a miss and then trusted for `ttlMs`, answered synchronously while fresh
 * (the hot path costs no promise). A lookup that finds nothing is not remembered, so a new
 * key, API key or endpoint, works at once; a change elsewhere shows within `ttlMs`.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock = systemClock,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: K, load: () => Promise<V | undefined>): V | Promise<V | undefined> {
    const hit = this.entries.get(key);
    if (hit && hit.until > this.clock.nowMs()) return hit.value;
    const asked = this.clock.nowMs();
    return load().then((value) => {
      if (value === undefined) this.entries.delete(key);
      else {
        if (this.entries.size >= this.maxEntries) this.entries.clear();
        this.entries.set(key, { value, until: asked + this.ttlMs });
      }
      return value;
    });
  }

  /** Drops a key this instance just changed, so its next lookup reads the store. */
  forget(key: K) {
    this.entries.delete(key);
  }
}
