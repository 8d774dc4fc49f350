import { randomBytes } from 'node:crypto';

/** Ids and random secrets come through this interface so tests can make them predictable. */
export interface IdSource {
  /** A resource id such as `dep_01jq…`: a prefix and a time-ordered random suffix. */
  id(prefix: string): string;
  /** A UUIDv7 (time-ordered), as Together uses for revisions and queue request ids. */
  uuidv7(): string;
  /** A high-entropy token for API keys. */
  token(bytes: number): string;
}

export function uuidv7(nowMs: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const randomIds: IdSource = {
  id: (prefix) => `${prefix}_${uuidv7().replace(/-/g, '')}`,
  uuidv7: () => uuidv7(),
  token: (bytes) => randomBytes(bytes).toString('base64url'),
};
