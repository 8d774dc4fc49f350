import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../config/config.js';
import { systemClock } from '../domain/clock.js';
import { randomIds, type IdSource } from '../domain/ids.js';
import { parseSecretKey, SecretBox } from '../domain/secret-box.js';
import { openDatabase } from '../store/database.js';
import { DockerDriver, dirOwner } from '../runtime/docker/docker-driver.js';
import { KubernetesDriver } from '../runtime/kubernetes/kubernetes-driver.js';
import { KubeConfig } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { loadRegistryAuths } from '../runtime/docker/image-puller.js';
import type { GpuInventory } from '../runtime/gpus.js';
import type { ReplicaOptions } from '../runtime/replica.js';
import { ProcessDriver } from '../runtime/process/process-driver.js';
import { BwrapSandbox, findBwrap, probeBwrap } from '../runtime/process/sandbox.js';
import type { RuntimeDriver } from '../contract/runtime.js';
import { Store } from '../store/store.js';
import { resealAll } from '../commands/secrets.js';

/** Opens the real dependencies that `serve` and `keys` share: data dir, store, ids, clock. */
export async function openStore(config: Config) {
  // Keys, the database, logs and stored files live here: only Gantry's user may enter.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  const store = new Store(await openDatabase(config.databaseUrl));
  return { store, ids: randomIds, clock: systemClock };
}

/**
 * This instance's id, kept in the data dir so that it survives restarts: background work it
 * claimed (model uploads) is its own to resume as soon as it starts again.
 */
export function loadInstanceId(config: Config, ids: IdSource): string {
  return readOrCreate(join(config.dataDir, 'instance.id'), () => ids.id('instance')).trim();
}

/** A file of the data dir made once (mode 0600; `wx`, so a racing second start never overwrites it) and read after. */
function readOrCreate(path: string, make: () => string): string {
  if (!existsSync(path)) writeFileSync(path, make() + '\n', { mode: 0o600, flag: 'wx' });
  return readFileSync(path, 'utf8');
}

/**
 * The key that encrypts secrets at rest: GANTRY_SECRET_KEY, or one generated once into the
 * data dir (mode 0600). Several instances sharing one PostgreSQL must share GANTRY_SECRET_KEY.
 */
export function loadSecretBox(config: Config): SecretBox {
  if (config.secretKey !== undefined) {
    const key = parseSecretKey(config.secretKey);
    if (!key) throw new ConfigError('GANTRY_SECRET_KEY (--secret-key): must be 32 bytes, as 64 hex characters or base64');
    return new SecretBox(key);
  }
  const path = join(config.dataDir, 'secret.key');
  readOrCreate(path, SecretBox.newKey);
  const keys = readKeyring(config.dataDir);
  return new SecretBox(keys.key, keys.previous, () => {
    try {
      return readKeyring(config.dataDir);
    } catch {
      return null; // mid-rotation: keep the keys in hand
    }
  });
}

/** The data dir's keys: `secret.key` seals, `secret.key.previous` (one per line) still opens. */
function readKeyring(dataDir: string): { key: Buffer; previous: Buffer[] } {
  const parse = (path: string, text: string) => {
    const key = parseSecretKey(text);
    if (!key) throw new ConfigError(`${path}: does not hold a 32-byte key`);
    return key;
  };
  const path = join(dataDir, 'secret.key');
  const previousPath = `${path}.previous`;
  const previous = existsSync(previousPath)
    ? readFileSync(previousPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => parse(previousPath, l))
    : [];
  return { key: parse(path, readFileSync(path, 'utf8')), previous };
}

/**
 * `gantry secrets rotate-key`: a new key in `secret.key`, the old ones kept in
 * `secret.key.previous` (written first, so every reader can open old and new values at each
 * step), then every sealed value re-sealed under the new key. Running servers open values under
 * either key, and take the new key for sealing when they next read one they cannot open or when
 * they see the file change.
 */
export async function rotateSecretKey(config: Config): Promise<{ resealed: number; current: number }> {
  if (config.secretKey !== undefined) {
    throw new ConfigError(
      "the secret key comes from GANTRY_SECRET_KEY (--secret-key): this command rotates the data dir's secret.key only; see docs/security.md for rotating a shared key",
    );
  }
  const path = join(config.dataDir, 'secret.key');
  if (!existsSync(path)) throw new ConfigError(`no secret key at ${path}: run gantry serve once with this --data-dir first`);
  const old = readKeyring(config.dataDir);
  const fresh = SecretBox.newKey();
  const hex = (keys: Buffer[]) => keys.map((k) => k.toString('hex') + '\n').join('');
  writeAtomically(`${path}.previous`, hex([old.key, ...old.previous]));
  writeAtomically(path, fresh + '\n');
  const deps = await openStore(config);
  try {
    return await resealAll(deps.store, new SecretBox(Buffer.from(fresh, 'hex'), [old.key, ...old.previous]));
  } finally {
    await deps.store.close();
  }
}

function writeAtomically(path: string, text: string) {
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** The runtime chosen with --runtime; each replica's directory (logs, working dir) is under the data dir. */
export async function openDriver(config: Config, gpus: GpuInventory, hooks: Pick<ReplicaOptions, 'beforeStop' | 'mayStart'> = {}): Promise<RuntimeDriver> {
  if (config.runtime === 'kubernetes') return openKubernetes(config);
  const dir = join(config.dataDir, 'replicas');
  const common = { dir, gpus, ...hooks };
  if (config.runtime === 'process') {
    const log = (msg: string) => process.stdout.write(`${msg}\n`);
    return new ProcessDriver({ ...common, baseEnv: config.baseEnv, log, sandbox: openSandbox(config, log) });
  }
  let registryAuths;
  if (config.registryAuth) {
    try {
      registryAuths = loadRegistryAuths(config.registryAuth);
    } catch (err) {
      throw new ConfigError(`registry credentials ${config.registryAuth} (--registry-auth): ${(err as Error).message}`);
    }
  }
  try {
    // On PostgreSQL every instance may lead and must adopt the same containers: they belong
    // to the database, as the kubernetes runtime's objects do, not to one data dir.
    const owner = config.databaseUrl.startsWith('sqlite:') ? {} : { owner: databaseOwner(config), formerOwners: [dirOwner(dir)] };
    return await DockerDriver.open({ ...common, host: config.dockerHost, ...owner, ...(registryAuths ? { registryAuths } : {}) });
  } catch (err) {
    throw new ConfigError(`the docker runtime needs the Docker Engine API (--docker-host / DOCKER_HOST): ${(err as Error).message}`);
  }
}

/**
 * The kubernetes runtime: `--kubeconfig`, else the pod's service account inside a cluster, else
 * ~/.kube/config. Its objects are labelled with a hash of the database URL: they belong to the
 * Gantry whose store holds the deployments, however many instances serve it.
 */
async function openKubernetes(config: Config): Promise<RuntimeDriver> {
  const kubeconfig = new KubeConfig();
  try {
    if (config.kubeconfig) kubeconfig.loadFromFile(config.kubeconfig);
    else if (process.env.KUBERNETES_SERVICE_HOST) kubeconfig.loadFromCluster();
    else kubeconfig.loadFromDefault();
    return await KubernetesDriver.open({
      kubeconfig,
      namespace: config.namespace,
      ...(config.volumeFetcherImage ? { volumeFetcherImage: config.volumeFetcherImage } : {}),
      owner: databaseOwner(config),
      clock: systemClock,
      log: (msg, fields) => process.stdout.write(`${msg} ${JSON.stringify(fields ?? {})}\n`),
    });
  } catch (err) {
    throw new ConfigError(
      `the kubernetes runtime cannot reach its cluster (--kubeconfig / KUBECONFIG, namespace ${config.namespace}): ${(err as Error).message}`,
    );
  }
}

/**
 * The process runtime's sandbox (`--sandbox`): bubblewrap hiding the data dir, or none. `auto`
 * takes bubblewrap when it works here and otherwise says loudly that replicas are not shut in.
 */
function openSandbox(config: Config, log: (msg: string) => void): BwrapSandbox | null {
  if (config.sandbox === 'none') {
    log('process replicas are not sandboxed (--sandbox none): each can read the data dir, keys and database, and every other replica; see docs/security.md');
    return null;
  }
  const bwrap = findBwrap();
  const why = bwrap ? probeBwrap(bwrap) : "bwrap is not installed (Debian's bubblewrap package)";
  if (why === null) return new BwrapSandbox(bwrap!, [config.dataDir], [join(config.dataDir, 'tls', 'localhost.crt')].filter(existsSync));
  if (config.sandbox === 'bwrap') throw new ConfigError(`--sandbox bwrap (GANTRY_SANDBOX): cannot sandbox replicas here: ${why}`);
  log(`WARNING: process replicas are not sandboxed (${why}): each can read the data dir, keys and database, and every other replica; see docs/security.md`);
  return null;
}

/** The owner label of a runtime's objects when they belong to the database (every instance of it). */
function databaseOwner(config: Config) {
  return createHash('sha256').update(config.databaseUrl).digest('hex').slice(0, 16);
}
