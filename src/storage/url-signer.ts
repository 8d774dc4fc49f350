import { createHmac, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../domain/clock.js';

/**
 * Short-lived signed URLs for storage, as S3's presigned URLs: the signature covers the method,
 * the path and the expiry, so a URL handed to a worker can upload or download exactly one thing
 * for a few minutes without an API key. The key is derived from Gantry's secret key, so every
 * instance sharing that key accepts the URLs of the others.
 */
export class UrlSigner {
  constructor(
    private readonly key: Buffer,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The query string (without '?') that makes `method path` valid for `ttlSeconds`. */
  sign(method: string, path: string, ttlSeconds: number): string {
    const expires = Math.floor(this.clock.nowMs() / 1000) + ttlSeconds;
    return `expires=${expires}&signature=${this.mac(method, path, expires)}`;
  }

  /** Why the URL is refused, or null when it is valid now. */
  check(method: string, path: string, expires: string | undefined, signature: string | undefined): string | null {
    if (!expires || !signature || !/^\d{1,12}$/.test(expires)) return 'the URL is not signed (expires and signature are required)';
    const want = Buffer.from(this.mac(method, path, Number(expires)));
    const got = Buffer.from(signature);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return 'the signature does not match this URL and method';
    if (Number(expires) * 1000 < this.clock.nowMs()) return 'the signed URL has expired; ask for a new one';
    return null;
  }

  private mac(method: string, path: string, expires: number) {
    return createHmac('sha256', this.key).update(`${method.toUpperCase()}\n${path}\n${expires}`).digest('base64url');
  }
}
