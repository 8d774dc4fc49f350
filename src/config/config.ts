import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseGpuDeclaration, type Gpu } from '../runtime/gpus.js';
import type { CatalogModel } from '../endpoints/catalog.js';
import { exampleEngine, type EngineTemplate } from '../endpoints/engine.js';
import { outboundPolicy } from '../endpoints/outbound.js';
import { DEFAULT_ENDPOINTS, type EndpointsConfig } from '../endpoints/settings.js';
import { DEFAULT_HOLD } from '../gateway/routing-table.js';
import { checkConfigFile } from './config-file.js';
import { DEFAULT_REGISTRY_LISTEN, DEMO_GPUS, MIN_ADMIN_KEY_LENGTH, SETTINGS, type SettingName } from './settings-table.js';

/**
 * Gantry's settings, parsed and validated once at start. Each comes from a flag, else an
 * environment variable, else the config file (JSON), else its default. An invalid value
 * fails start-up with a message that names the setting and where it came from.
 */
export interface Config {
  listen: { host: string; port: number };
  dataDir: string;
  databaseUrl: string;
  adminKey: string | undefined;
  secretKey: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  bodyLimit: number;
  runtime: 'process' | 'docker' | 'kubernetes';
  /** The kubernetes runtime's cluster: a kubeconfig file, else in-cluster credentials, else ~/.kube/config. */
  kubeconfig: string | undefined;
  /** The namespace the kubernetes runtime's objects live in. */
  namespace: string;
  /** The kubernetes runtime's init container image that fetches volume versions. */
  volumeFetcherImage: string | undefined;
  /** How process replicas are shut in (runtime/process/sandbox.ts). */
  sandbox: 'auto' | 'bwrap' | 'none';
  /** The Docker Engine API (docker runtime): unix:///path or tcp://host:port. */
  dockerHost: string;
  /** A Docker-style config.json with registry credentials (docker runtime). */
  registryAuth: string | undefined;
  /**
   * Gantry's image registry: off; `auto` (the default: on at 127.0.0.1:5000 when the binary is
   * installed and the port is free, else off with a warning); or on at a given address, where a
   * failure to start stops Gantry.
   */
  registry: { mode: 'off' } | { mode: 'auto' | 'on'; host: string; port: number };
  /** Declared GPUs (`--gpus h100-80gb:2,…`, parsed); undefined means detect with nvidia-smi. */
  gpus: Gpu[] | undefined;
  /** Try endpoints without a GPU: simulated GPUs and the example engine (`--demo`). */
  demo: boolean;
  /** This server's URL as replicas reach it (TOGETHER_API_BASE_URL). */
  publicUrl: string | undefined;
  /** Requests the gateway holds per deployment while no replica is ready. */
  holdMax: number;
  /** How long the gateway holds a request for a ready replica, in seconds. */
  holdTimeoutSeconds: number;
  /** The autoscaler scales down only when every recommendation over this window is lower. */
  scaleDownWindowSeconds: number;
  /** An autoscaled deployment with min_replicas 0 goes to zero after this long without a request. */
  idleGraceSeconds: number;
  /** Finished queue jobs are deleted this many days after they end (0: kept). */
  jobRetentionDays: number;
  /** Deployments the controller reconciles at once. */
  reconcileConcurrency: number;
  /** Processes serving the data plane on the listen socket; 1: the main process alone. */
  gatewayWorkers: number;
  /** Several instances: how long the leader's lease lasts without a renewal, in seconds. */
  leaderLeaseSeconds: number;
  /** Per-key limits: API requests per second, queue long polls held at once (0: none). */
  rateLimits: { requestsPerSecond: number; longPolls: number };
  /** The bearer token /metrics requires; open when undefined. */
  metricsToken: string | undefined;
  /** Where /metrics is served instead of the API's address (`--metrics-listen`). */
  metricsListen: { host: string; port: number } | undefined;
  /** What every process replica inherits from Gantry's environment (PATH and the like). */
  baseEnv: Record<string, string>;
  /** HTTPS: off, a certificate and key from files, or a self-signed one made in the data dir. */
  tls: { mode: 'off' } | { mode: 'files'; cert: string; key: string } | { mode: 'self-signed' };
  /** Dedicated endpoints' settings; only the config file sets them (they are structured). */
  endpoints: EndpointsConfig;
}

export class ConfigError extends Error {}

/** Variables a process replica inherits from Gantry, so its command can be found and run. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SSL_CERT_FILE'];

export type Flags = Partial<Record<SettingName, string>> & { config?: string };

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(flags: Flags, env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  const configPath = flags.config ?? env.GANTRY_CONFIG;
  let file: Record<string, unknown> = {};
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(resolve(cwd, configPath), 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${configPath} (--config / GANTRY_CONFIG): ${(err as Error).message}`);
    }
    const checked = checkConfigFile(file);
    if (!checked.ok) throw new ConfigError(`config file ${configPath}: ${checked.why}`);
  }

  const pick = (key: SettingName): { value: string | undefined; from: string } => {
    const s = SETTINGS[key];
    if (flags[key] !== undefined) return { value: flags[key], from: s.flag };
    if (env[s.env] !== undefined && env[s.env] !== '') return { value: env[s.env], from: s.env };
    const v = file[s.file];
    if (v !== undefined) return { value: String(v), from: `${s.file} in ${configPath}` };
    return { value: undefined, from: 'default' };
  };

  const listenIn = pick('listen');
  const listen = parseListen(listenIn.value ?? '127.0.0.1:8080', listenIn.from);
  const metricsListenIn = pick('metricsListen');
  const dataDir = resolve(cwd, pick('dataDir').value ?? '.gantry');
  const dbIn = pick('databaseUrl');
  const databaseUrl = dbIn.value ?? `sqlite:${join(dataDir, 'gantry.db')}`;
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(databaseUrl)) {
    throw new ConfigError(`${dbIn.from}: '${databaseUrl}' is not a database URL (use sqlite:PATH or postgres://USER@HOST/DB)`);
  }
  const levelIn = pick('logLevel');
  const logLevel = (levelIn.value ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`${levelIn.from}: log level '${logLevel}' is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const limitIn = pick('bodyLimit');
  const bodyLimit = Number(limitIn.value ?? 1024 * 1024);
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1024) {
    throw new ConfigError(`${limitIn.from}: body limit must be a whole number of bytes, at least 1024 (got '${limitIn.value}')`);
  }
  const runtimeIn = pick('runtime');
  const runtime = runtimeIn.value ?? 'process';
  if (runtime !== 'process' && runtime !== 'docker' && runtime !== 'kubernetes') {
    throw new ConfigError(`${runtimeIn.from}: runtime '${runtime}' is not one of process, docker, kubernetes`);
  }
  const kubeconfigIn = pick('kubeconfig');
  const namespaceIn = pick('namespace');
  const namespace = namespaceIn.value ?? 'default';
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new ConfigError(`${namespaceIn.from}: '${namespace}' is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)`);
  }
  const sandboxIn = pick('sandbox');
  const sandbox = sandboxIn.value ?? 'auto';
  if (sandbox !== 'auto' && sandbox !== 'bwrap' && sandbox !== 'none') {
    throw new ConfigError(`${sandboxIn.from}: sandbox '${sandbox}' is not one of auto, bwrap, none`);
  }
  const hostIn = pick('dockerHost');
  const dockerHost = hostIn.value ?? 'unix:///var/run/docker.sock';
  if (!/^(unix:\/\/\/.+|tcp:\/\/[^\s/]+\/?)$/.test(dockerHost)) {
    throw new ConfigError(`${hostIn.from}: '${dockerHost}' is not unix:///PATH or tcp://HOST:PORT`);
  }
  const authIn = pick('registryAuth');
  const registryIn = pick('registry');
  const registry: Config['registry'] =
    registryIn.value === 'off'
      ? { mode: 'off' }
      : { mode: registryIn.value === undefined ? 'auto' : 'on', ...parseListen(registryIn.value ?? DEFAULT_REGISTRY_LISTEN, registryIn.from) };
  if (registry.mode !== 'off' && registry.port === 0) {
    throw new ConfigError(`${registryIn.from}: the registry needs a fixed port (images are named by it), not 0`);
  }
  const demo = onOff(pick('demo'));
  const gpusIn = pick('gpus');
  const declared = gpusIn.value ?? (demo ? DEMO_GPUS : undefined);
  let gpus: Gpu[] | undefined;
  try {
    gpus = declared === undefined ? undefined : parseGpuDeclaration(declared);
  } catch (err) {
    throw new ConfigError(`${gpusIn.from}: ${(err as Error).message}`);
  }
  const urlIn = pick('publicUrl');
  if (urlIn.value !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(urlIn.value)) {
    throw new ConfigError(`${urlIn.from}: '${urlIn.value}' is not a base URL such as http://10.0.0.5:8080`);
  }
  const holdMax = wholeNumber(pick('holdMax'), DEFAULT_HOLD.maxHeld, 0);
  const holdTimeoutSeconds = wholeNumber(pick('holdTimeoutSeconds'), DEFAULT_HOLD.maxWaitMs / 1000, 1);
  const scaleDownWindowSeconds = wholeNumber(pick('scaleDownWindowSeconds'), 300, 0);
  const idleGraceSeconds = wholeNumber(pick('idleGraceSeconds'), 300, 0);
  const reconcileConcurrency = wholeNumber(pick('reconcileConcurrency'), 4, 1);
  const leaderLeaseSeconds = wholeNumber(pick('leaderLeaseSeconds'), 3, 1);
  const gatewayWorkers = wholeNumber(pick('gatewayWorkers'), 1, 1);
  const jobRetentionDays = wholeNumber(pick('jobRetentionDays'), 7, 0);
  const rateLimits = { requestsPerSecond: wholeNumber(pick('rateLimit'), 1000, 0), longPolls: wholeNumber(pick('maxLongPolls'), 100, 0) };
  const endpoints = parseEndpoints(file, env.HF_ENDPOINT, addressList(pick('fetchAllow')), cwd);
  // The example engine stands in for vLLM unless the config file names an engine of its own.
  if (demo && runtime !== 'process')
    throw new ConfigError(`--demo (GANTRY_DEMO): runs the example engine as a process; use it with --runtime process, not ${runtime}`);
  if (demo && file.engine === undefined) endpoints.engine = exampleEngine();
  const adminIn = pick('adminKey');
  if (adminIn.value !== undefined && adminIn.value.length < MIN_ADMIN_KEY_LENGTH) {
    throw new ConfigError(
      `${adminIn.from}: an admin key must be at least ${MIN_ADMIN_KEY_LENGTH} characters (got ${adminIn.value.length}); for example: openssl rand -hex 32`,
    );
  }
  const tls = parseTls(pick('tls'), pick('tlsCert'), pick('tlsKey'), cwd);
  const baseEnv: Record<string, string> = {};
  for (const name of INHERITED_ENV) if (env[name] !== undefined) baseEnv[name] = env[name]!;
  return {
    holdMax,
    holdTimeoutSeconds,
    scaleDownWindowSeconds,
    idleGraceSeconds,
    reconcileConcurrency,
    leaderLeaseSeconds,
    gatewayWorkers,
    jobRetentionDays,
    rateLimits,
    metricsToken: pick('metricsToken').value,
    metricsListen: metricsListenIn.value === undefined ? undefined : parseListen(metricsListenIn.value, metricsListenIn.from),
    runtime,
    kubeconfig: kubeconfigIn.value === undefined ? undefined : resolve(cwd, kubeconfigIn.value),
    namespace,
    volumeFetcherImage: pick('volumeFetcherImage').value,
    sandbox,
    dockerHost,
    registryAuth: authIn.value === undefined ? undefined : resolve(cwd, authIn.value),
    registry,
    gpus,
    demo,
    publicUrl: urlIn.value?.replace(/\/$/, ''),
    baseEnv,
    tls,
    endpoints,
    listen,
    dataDir,
    databaseUrl: databaseUrl.startsWith('sqlite:') ? `sqlite:${resolve(cwd, databaseUrl.slice(7))}` : databaseUrl,
    adminKey: adminIn.value,
    secretKey: pick('secretKey').value,
    logLevel,
    bodyLimit,
  };
}

/** The endpoints' settings from the (schema-checked) config file, paths made absolute. */
function parseEndpoints(file: Record<string, unknown>, hubUrl: string | undefined, fetchAllow: string[], cwd: string): EndpointsConfig {
  const d = DEFAULT_ENDPOINTS;
  return {
    catalog: file.models as CatalogModel[] | undefined,
    engine: (file.engine ?? d.engine) as Partial<EngineTemplate>,
    gpuPrices: (file.gpu_prices ?? d.gpuPrices) as Record<string, number>,
    availabilityZones: (file.availability_zones as string[] | undefined) ?? d.availabilityZones,
    localModelDirs: ((file.local_model_dirs as string[] | undefined) ?? d.localModelDirs).map((dir) => resolve(cwd, dir)),
    hubUrl: (hubUrl || d.hubUrl).replace(/\/$/, ''),
    fetchAllow,
  };
}

type Picked = { value: string | undefined; from: string };

function parseTls(mode: Picked, cert: Picked, key: Picked, cwd: string): Config['tls'] {
  if (mode.value !== undefined && mode.value !== 'self-signed' && mode.value !== 'off') {
    throw new ConfigError(`${mode.from}: '${mode.value}' is not self-signed or off (for your own certificate use --tls-cert and --tls-key)`);
  }
  if (cert.value !== undefined || key.value !== undefined) {
    if (cert.value === undefined || key.value === undefined)
      throw new ConfigError('--tls-cert and --tls-key (GANTRY_TLS_CERT, GANTRY_TLS_KEY) go together: give both');
    if (mode.value === 'self-signed') throw new ConfigError(`${mode.from}: self-signed and --tls-cert/--tls-key exclude each other`);
    return { mode: 'files', cert: resolve(cwd, cert.value), key: resolve(cwd, key.value) };
  }
  return mode.value === 'self-signed' ? { mode: 'self-signed' } : { mode: 'off' };
}

/** A comma-separated list of IP addresses and CIDR ranges, checked by the policy that will use it. */
function addressList(input: Picked): string[] {
  const entries = (input.value ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  try {
    outboundPolicy(entries);
  } catch (err) {
    throw new ConfigError(`${input.from}: ${(err as Error).message}`);
  }
  return entries;
}

function onOff(input: Picked): boolean {
  const v = input.value?.toLowerCase();
  if (v === undefined || v === 'off' || v === 'false' || v === '0') return false;
  if (v === 'on' || v === 'true' || v === '1' || v === '') return true;
  throw new ConfigError(`${input.from}: '${input.value}' is not on or off`);
}

function wholeNumber(input: Picked, fallback: number, min: number): number {
  if (input.value === undefined) return fallback;
  const n = Number(input.value);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${input.from}: must be a whole number, at least ${min} (got '${input.value}')`);
  return n;
}

function parseListen(text: string, from: string) {
  const m = /^(.*):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || port > 65535) {
    throw new ConfigError(`${from}: '${text}' is not HOST:PORT (for example 127.0.0.1:8080; port 0 picks a free port)`);
  }
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}
