import { randomBytes } from 'node:crypto';

/** Ids and random secrets come through this interface so tests can make them predictable. */
export interface IdSource {
  /** A resource id such as `dep_01jq…`: a prefix and a time-ordered random suffix. */
  id(prefix: string): string;
  /** A UUIDv7 (time-ordered), as Together uses for revisions and queue request ids. */
  uuidv7(): string;
  /** A high-entropy token for API keys. */
  token(bytes: number): string;
  /** `bytes` random bytes as hex: short random suffixes (replica and endpoint names). */
  hex(bytes: number): string;
}

let lastMs = 0;
let sequence = 0;

/**
 * A UUIDv7 whose order is creation order within this process, even within one millisecond:
 * the 12 bits after the version are a counter (RFC 9562 §6.2, method 1) that starts at a
 * random value below 2048 each millisecond; should it run out, the time moves on by 1 ms.
 * The queue relies on this for FIFO within a priority.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const b = randomBytes(16);
  if (nowMs > lastMs) {
    lastMs = nowMs;
    sequence = b.readUInt16BE(6) & 0x7ff;
  } else if (++sequence > 0xfff) {
    lastMs++;
    sequence = 0;
  }
  b.writeUIntBE(lastMs, 0, 6);
  b.writeUInt16BE(0x7000 | sequence, 6);
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const randomIds: IdSource = {
  id: (prefix) => `${prefix}_${uuidv7().replace(/-/g, '')}`,
  uuidv7: () => uuidv7(),
  token: (bytes) => randomBytes(bytes).toString('base64url'),
  hex: (bytes) => randomBytes(bytes).toString('hex'),
};
