import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { ConfigError, type Config } from '../config/config.js';
import type { Clock } from '../domain/clock.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** The self-signed certificate's file, which clients (and replicas) must trust. */
  selfSignedFile?: string;
}

/** A self-signed certificate is renewed when it has less than this left. */
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

/** The certificate and key `gantry serve` serves HTTPS with, or undefined for plain HTTP. */
export async function loadTls(config: Config, clock: Clock): Promise<TlsMaterial | undefined> {
  const tls = config.tls;
  if (tls.mode === 'off') return undefined;
  if (tls.mode === 'files') {
    const read = (path: string, flag: string) => {
      try {
        return readFileSync(path, 'utf8');
      } catch (err) {
        throw new ConfigError(`${flag} ${path}: ${(err as Error).message}`);
      }
    };
    return { cert: read(tls.cert, '--tls-cert'), key: read(tls.key, '--tls-key') };
  }
  const dir = join(config.dataDir, 'tls');
  const certFile = join(dir, 'localhost.crt');
  const keyFile = join(dir, 'localhost.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readFileSync(certFile, 'utf8');
    if (Date.parse(new X509Certificate(cert).validTo) - clock.nowMs() > RENEW_BEFORE_MS) {
      return { cert, key: readFileSync(keyFile, 'utf8'), selfSignedFile: certFile };
    }
  }
  // Its own CA (a self-signed leaf is not a trust anchor for every TLS stack), valid for the
  // loopback names replicas and local clients use.
  const pems = await generate([{ name: 'commonName', value: 'Gantry localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(clock.nowMs() + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert);
  return { cert: pems.cert, key: pems.private, selfSignedFile: certFile };
}
