import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Encrypts secret values at rest with AES-256-GCM. The row id is bound as additional
 * data, so a ciphertext copied onto another secret's row does not decrypt.
 * Format: "v1:" + base64(iv[12] | tag[16] | ciphertext).
 *
 * A box seals with its primary key and opens with the primary or any previous one (a key being
 * rotated out: `gantry secrets rotate-key`). When nothing opens a value, `reload` is asked once
 * for the keys now on disk, so a running server follows a rotation made by another process.
 */
export class SecretBox {
  /** A new random key, as 64 hex characters (what `--secret-key` and `<data-dir>/secret.key` hold). */
  static newKey(): string {
    return randomBytes(32).toString('hex');
  }

  private key: Buffer;
  private previous: Buffer[];

  constructor(
    key: Buffer,
    previous: Buffer[] = [],
    private readonly reload?: () => { key: Buffer; previous: Buffer[] } | null,
  ) {
    this.key = key;
    this.previous = previous;
    for (const k of [key, ...previous]) if (k.length !== 32) throw new Error('the secret key must be 32 bytes');
  }

  seal(plaintext: string, boundTo: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(boundTo));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
  }

  /** A separate key for another purpose (e.g. signing URLs), so the sealing key is never used twice. */
  deriveKey(purpose: string): Buffer {
    return createHmac('sha256', this.key).update(`gantry:${purpose}`).digest();
  }

  open(sealed: string, boundTo: string): string {
    if (!sealed.startsWith('v1:')) throw new Error('unknown secret format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const opened = this.tryOpen(raw, boundTo);
    if (opened !== null) return opened;
    const keys = this.reload?.();
    if (keys) {
      this.key = keys.key;
      this.previous = keys.previous;
      const again = this.tryOpen(raw, boundTo);
      if (again !== null) return again;
    }
    throw new Error('the value does not open with the secret key (was it sealed under another key?)');
  }

  /** Takes the keys now on disk (a rotation by another process), so new values are sealed under the new key. */
  refresh() {
    const keys = this.reload?.();
    if (keys) {
      this.key = keys.key;
      this.previous = keys.previous;
    }
  }

  /** Whether the value is sealed under the primary key (a rotation has nothing to redo for it). */
  isCurrent(sealed: string, boundTo: string): boolean {
    return sealed.startsWith('v1:') && openWith(this.key, Buffer.from(sealed.slice(3), 'base64'), boundTo) !== null;
  }

  private tryOpen(raw: Buffer, boundTo: string): string | null {
    for (const key of [this.key, ...this.previous]) {
      const text = openWith(key, raw, boundTo);
      if (text !== null) return text;
    }
    return null;
  }
}

function openWith(key: Buffer, raw: Buffer, boundTo: string): string | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(boundTo));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** Parses GANTRY_SECRET_KEY: 32 bytes as 64 hex characters or as base64. */
export function parseSecretKey(text: string): Buffer | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  const b = Buffer.from(t, 'base64');
  return b.length === 32 ? b : null;
}
