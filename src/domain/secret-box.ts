import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Encrypts secret values at rest with AES-256-GCM. The row id is bound as additional
 * data, so a ciphertext copied onto another secret's row does not decrypt.
 * Format: "v1:" + base64(iv[12] | tag[16] | ciphertext).
 */
export class SecretBox {
  /** A new random key, as 64 hex characters (what `--secret-key` and `<data-dir>/secret.key` hold). */
  static newKey(): string {
    return randomBytes(32).toString('hex');
  }

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the secret key must be 32 bytes');
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
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(boundTo));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}

/** Parses GANTRY_SECRET_KEY: 32 bytes as 64 hex characters or as base64. */
export function parseSecretKey(text: string): Buffer | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  const b = Buffer.from(t, 'base64');
  return b.length === 32 ? b : null;
}
