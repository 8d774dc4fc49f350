import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, importPKCS8, type CryptoKey } from 'jose';
import { generate } from 'selfsigned';
import type { Clock } from '../domain/clock.js';
import type { IdSource } from '../domain/ids.js';

/** The `service` the registry names in its challenge and the `aud` of every token. */
export const REGISTRY_SERVICE = 'gantry-registry';
const ISSUER = 'gantry';
/** Long enough for a slow layer upload: clients fetch a new token when one runs out. */
const TOKEN_SECONDS = 300;

/** One grant of a token (distribution's `access` claim): `repository:proj_1/app:pull,push`. */
export interface RegistryAccess {
  type: string;
  name: string;
  actions: string[];
}

/** Parses `scope` parameters (each may hold several, space-separated); unknown forms are skipped. */
export function parseScopes(scopes: string[]): RegistryAccess[] {
  const out: RegistryAccess[] = [];
  for (const scope of scopes.flatMap((s) => s.split(' ')).filter(Boolean)) {
    // type:name:actions, where the name itself may hold a colon (a registry host with a port).
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    out.push({
      type: scope.slice(0, first),
      name: scope.slice(first + 1, last),
      actions: scope
        .slice(last + 1)
        .split(',')
        .filter(Boolean),
    });
  }
  return out;
}

/**
 * Signs the bearer tokens of distribution's token authentication (`auth: token`): JWTs (ES256)
 * whose `x5c` header carries the signing certificate, which the registry checks against the
 * bundle it was started with (`certFile`). The key and certificate are made once in `dir`
 * (0600) and kept, so tokens stay valid across restarts of Gantry and the registry.
 */
export class RegistryTokens {
  private constructor(
    readonly certFile: string,
    private readonly key: CryptoKey,
    private readonly certDer: string,
    private readonly clock: Clock,
    private readonly ids: IdSource,
  ) {}

  static async open(dir: string, clock: Clock, ids: IdSource): Promise<RegistryTokens> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const certFile = join(dir, 'token-signing.crt');
    const keyFile = join(dir, 'token-signing.key');
    if (!existsSync(certFile) || !existsSync(keyFile)) {
      const pems = await generate([{ name: 'commonName', value: 'Gantry registry token signer' }], {
        keyType: 'ec',
        algorithm: 'sha256',
        notAfterDate: new Date(clock.nowMs() + 10 * 365 * 24 * 3600 * 1000),
      });
      writeFileSync(keyFile, pems.private, { mode: 0o600 });
      writeFileSync(certFile, pems.cert);
    }
    const cert = readFileSync(certFile, 'utf8');
    const key = await importPKCS8(readFileSync(keyFile, 'utf8'), 'ES256');
    return new RegistryTokens(certFile, key, new X509Certificate(cert).raw.toString('base64'), clock, ids);
  }

  /** A token for `subject` granting `access`, in the shape Docker's clients read. */
  async issue(subject: string, access: RegistryAccess[]) {
    const now = Math.floor(this.clock.nowMs() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [this.certDer] })
      .setIssuer(ISSUER)
      .setAudience(REGISTRY_SERVICE)
      .setSubject(subject)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + TOKEN_SECONDS)
      .setJti(this.ids.hex(16))
      .sign(this.key);
    return { token, access_token: token, expires_in: TOKEN_SECONDS, issued_at: new Date(now * 1000).toISOString() };
  }

  /** What the registry's `auth.token` section needs to trust these tokens. */
  authConfig(realm: string) {
    return { realm, service: REGISTRY_SERVICE, issuer: ISSUER, rootcertbundle: this.certFile };
  }
}
