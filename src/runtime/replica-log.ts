import { createReadStream, createWriteStream, existsSync, openSync, renameSync, statSync, type WriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../domain/clock.js';

/**
 * A replica's stdout and stderr on disk, capped: when the file passes `capBytes` it becomes
 * `output.log.1` (replacing the previous one) and writing starts afresh, so a chatty replica
 * keeps at most twice the cap. The files outlive the process, so a crashed replica's output
 * stays readable. Writes are asynchronous (a write stream): a replica's output never blocks the
 * event loop, and `write` answers false when the caller should wait for `onDrain` (backpressure).
 */
export class ReplicaLog {
  private stream: WriteStream | null;
  private size: number;
  /** Streams ended by a rotation, until they have written what they hold. */
  private ending: Promise<void>[] = [];

  constructor(
    private readonly dir: string,
    private readonly capBytes: number,
  ) {
    this.size = existsSync(this.path) ? statSync(this.path).size : 0;
    this.stream = this.open();
  }

  get path() {
    return join(this.dir, 'output.log');
  }

  /** Appends output; false when the caller should pause its source until `onDrain`. */
  write(chunk: Buffer): boolean {
    if (!this.stream) return true; // closed: output racing the replica's stop
    if (this.size + chunk.length > this.capBytes && this.size > 0) {
      // Renamed while the old stream finishes: what it still writes lands in output.log.1, in order.
      this.ending.push(ended(this.stream));
      renameSync(this.path, `${this.path}.1`);
      this.stream = this.open();
      this.size = 0;
    }
    this.size += chunk.length;
    return this.stream.write(chunk);
  }

  onDrain(resume: () => void) {
    if (this.stream) this.stream.once('drain', resume);
    else resume();
  }

  /** Stops writing; resolves once everything written so far is on disk. */
  async close(): Promise<void> {
    if (this.stream) this.ending.push(ended(this.stream));
    this.stream = null;
    await Promise.all(this.ending);
  }

  private open() {
    // Opened at once (the file exists before any rotation renames it); written asynchronously.
    const s = createWriteStream(this.path, { fd: openSync(this.path, 'a', 0o600) });
    s.on('error', () => {}); // a replica folder removed under a late write (deployment deleted)
    return s;
  }
}

function ended(stream: WriteStream): Promise<void> {
  return new Promise((resolve) => stream.end(() => resolve()));
}

/** Every line kept for a replica, oldest first, read as streams (never a blocking read of the whole file). */
export async function readReplicaLog(dir: string): Promise<string[]> {
  let text = '';
  for (const path of [join(dir, 'output.log.1'), join(dir, 'output.log')]) {
    try {
      for await (const chunk of createReadStream(path, { encoding: 'utf8' })) text += chunk;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  if (!text) return [];
  return text.replace(/\n$/, '').split('\n');
}

/**
 * Calls `onLines` with each complete line appended to the replica's log from now on, polling
 * its size and reading what was added asynchronously; answers a function that stops following.
 */
export function followReplicaLog(dir: string, onLines: (lines: string[]) => void, clock: Clock, intervalMs = 200): () => void {
  const path = join(dir, 'output.log');
  let offset = existsSync(path) ? statSync(path).size : 0;
  let partial = '';
  let reading = false;
  let stopped = false;
  const readMore = async () => {
    const size = (await stat(path)).size;
    if (size < offset) offset = 0; // rotated
    if (size === offset) return;
    const file = await open(path, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      const { bytesRead } = await file.read(buf, 0, buf.length, offset);
      offset += bytesRead;
      const lines = (partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      if (lines.length && !stopped) onLines(lines);
    } finally {
      await file.close();
    }
  };
  const timer = clock.setInterval(() => {
    if (reading) return;
    reading = true;
    readMore()
      .catch(() => {}) // not written yet, or removed with its deployment
      .finally(() => (reading = false));
  }, intervalMs);
  return () => {
    stopped = true;
    timer.cancel();
  };
}
