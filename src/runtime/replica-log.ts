import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../domain/clock.js';

/**
 * A replica's stdout and stderr on disk, capped: when the file passes `capBytes` it becomes
 * `output.log.1` (replacing the previous one) and writing starts afresh, so a chatty replica
 * keeps at most twice the cap. The files outlive the process, so a crashed replica's output
 * stays readable.
 */
export class ReplicaLog {
  private fd: number;
  private size: number;

  constructor(
    private readonly dir: string,
    private readonly capBytes: number,
  ) {
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = statSync(this.path).size;
  }

  get path() {
    return join(this.dir, 'output.log');
  }

  write(chunk: Buffer) {
    if (this.fd < 0) return; // closed: output racing the replica's stop
    if (this.size + chunk.length > this.capBytes && this.size > 0) {
      closeSync(this.fd);
      renameSync(this.path, `${this.path}.1`);
      this.fd = openSync(this.path, 'a', 0o600);
      this.size = 0;
    }
    writeSync(this.fd, chunk);
    this.size += chunk.length;
  }

  close() {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Every line kept for a replica, oldest first. */
export function readReplicaLog(dir: string): string[] {
  const parts = [join(dir, 'output.log.1'), join(dir, 'output.log')].filter(existsSync).map((p) => readFileSync(p, 'utf8'));
  const text = parts.join('');
  if (!text) return [];
  return text.replace(/\n$/, '').split('\n');
}

/**
 * Calls `onLines` with each complete line appended to the replica's log from now on, polling
 * its size; answers a function that stops following.
 */
export function followReplicaLog(dir: string, onLines: (lines: string[]) => void, clock: Clock, intervalMs = 200): () => void {
  const path = join(dir, 'output.log');
  let offset = existsSync(path) ? statSync(path).size : 0;
  let partial = '';
  const timer = clock.setInterval(() => {
    if (!existsSync(path)) return;
    const size = statSync(path).size;
    if (size < offset) offset = 0; // rotated
    if (size === offset) return;
    const fd = openSync(path, 'r');
    const buf = Buffer.alloc(size - offset);
    const bytesRead = readSync(fd, buf, 0, buf.length, offset);
    closeSync(fd);
    offset += bytesRead;
    const text = partial + buf.subarray(0, bytesRead).toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    if (lines.length) onLines(lines);
  }, intervalMs);
  return () => timer.cancel();
}
