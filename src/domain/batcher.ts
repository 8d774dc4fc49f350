/**
 * Group commit: calls that arrive in the same turn of the event loop, or while the previous
 * batch is being written, are written together by one `write`. An idle batcher writes at the
 * next turn, so a lone call waits for nothing but that turn; under load each write carries
 * every call that queued up meanwhile, and the cost of a round trip or a commit is shared.
 * One batch is in flight at a time. `write` answers one result per item, in the items' order;
 * if it throws, every call of that batch rejects with its error.
 */
export class Batcher<In, Out> {
  private pending: { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private busy = false;

  constructor(
    private readonly write: (items: In[]) => Promise<Out[]>,
    private readonly max = 256,
  ) {}

  add(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length === 1 && !this.busy) setImmediate(() => void this.flush());
    });
  }

  private async flush() {
    this.busy = true;
    const batch = this.pending.splice(0, this.max);
    try {
      const out = await this.write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(out[i]!));
    } catch (err) {
      for (const b of batch) b.reject(err);
    } finally {
      this.busy = false;
      if (this.pending.length > 0) setImmediate(() => void this.flush());
    }
  }
}
