/**
 * Splits the Engine API's multiplexed log stream (containers without a TTY): each frame is an
 * 8-byte header (stream type, three zero bytes, big-endian payload length) and the payload.
 * Chunks from the socket may cut frames anywhere, so a partial frame is kept for the next push.
 */
export class LogFrames {
  private pending: Buffer = Buffer.alloc(0);

  /** The payloads of the frames completed by `chunk`, in order. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      out.push(this.pending.subarray(8, 8 + size));
      this.pending = this.pending.subarray(8 + size);
    }
    return out;
  }
}
