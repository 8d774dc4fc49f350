import { GPU_TYPES } from '../contract/schemas/deployment.js';
import { DEFAULT_HOLD } from '../gateway/routing-table.js';

/** An admin key is a bearer credential for a whole project: at least as long as a 128-bit hex token. */
export const MIN_ADMIN_KEY_LENGTH = 32;
/** Where the image registry listens unless `--registry` says otherwise (Docker's customary port). */
export const DEFAULT_REGISTRY_LISTEN = '127.0.0.1:5000';
/** What `--demo` declares when `--gpus` does not. */
export const DEMO_GPUS = 'h100-80gb:2';

/**
 * One setting as the user meets it: its flag (with the argument's name), environment
 * variable, config-file key and help line. The CLI's options and the config file's known keys
 * are generated from this table, so a setting exists everywhere or nowhere.
 */
export interface Setting {
  flag: string;
  arg: string;
  env: string;
  file: string;
  help: string;
  /** `store`: every command that opens the store; `serve`: only `gantry serve`. */
  scope: 'store' | 'serve';
}

export const SETTINGS = {
  dataDir: { flag: '--data-dir', arg: 'dir', env: 'GANTRY_DATA_DIR', file: 'data_dir', scope: 'store', help: 'data directory (default ./.gantry)' },
  databaseUrl: {
    flag: '--database',
    arg: 'url',
    env: 'GANTRY_DATABASE_URL',
    file: 'database_url',
    scope: 'store',
    help: 'sqlite:PATH or postgres://USER@HOST/DB (default sqlite under the data dir)',
  },
  listen: {
    flag: '--listen',
    arg: 'host:port',
    env: 'GANTRY_LISTEN',
    file: 'listen',
    scope: 'serve',
    help: 'address to listen on (default 127.0.0.1:8080; port 0 picks a free one)',
  },
  adminKey: {
    flag: '--admin-key',
    arg: 'key',
    env: 'GANTRY_ADMIN_KEY',
    file: 'admin_key',
    scope: 'serve',
    help: `the default project's admin key, at least ${MIN_ADMIN_KEY_LENGTH} characters (default: a random one saved to <data-dir>/admin.key)`,
  },
  secretKey: {
    flag: '--secret-key',
    arg: 'key',
    env: 'GANTRY_SECRET_KEY',
    file: 'secret_key',
    scope: 'serve',
    help: 'the 32-byte key (64 hex characters or base64) that encrypts secrets at rest (default: <data-dir>/secret.key)',
  },
  logLevel: {
    flag: '--log-level',
    arg: 'level',
    env: 'GANTRY_LOG_LEVEL',
    file: 'log_level',
    scope: 'serve',
    help: 'fatal, error, warn, info, debug, trace or silent (default info)',
  },
  bodyLimit: {
    flag: '--body-limit',
    arg: 'bytes',
    env: 'GANTRY_BODY_LIMIT',
    file: 'body_limit',
    scope: 'serve',
    help: 'largest accepted request body (default 1048576)',
  },
  runtime: {
    flag: '--runtime',
    arg: 'kind',
    env: 'GANTRY_RUNTIME',
    file: 'runtime',
    scope: 'serve',
    help: 'where replicas run: process, docker or kubernetes (default process)',
  },
  sandbox: {
    flag: '--sandbox',
    arg: 'mode',
    env: 'GANTRY_SANDBOX',
    file: 'sandbox',
    scope: 'serve',
    help: 'process replicas shut in with bubblewrap: bwrap (required), none, or auto (bwrap when it works here, else none with a warning; default)',
  },
  dockerHost: {
    flag: '--docker-host',
    arg: 'url',
    env: 'DOCKER_HOST',
    file: 'docker_host',
    scope: 'serve',
    help: "Docker Engine API of the docker runtime, Podman's works too (default unix:///var/run/docker.sock)",
  },
  kubeconfig: {
    flag: '--kubeconfig',
    arg: 'file',
    env: 'KUBECONFIG',
    file: 'kubeconfig',
    scope: 'serve',
    help: "the kubernetes runtime's cluster (default: in-cluster credentials inside a pod, else ~/.kube/config)",
  },
  namespace: {
    flag: '--namespace',
    arg: 'name',
    env: 'GANTRY_NAMESPACE',
    file: 'namespace',
    scope: 'serve',
    help: "the namespace of the kubernetes runtime's objects (default default)",
  },
  volumeFetcherImage: {
    flag: '--volume-fetcher-image',
    arg: 'image',
    env: 'GANTRY_VOLUME_FETCHER_IMAGE',
    file: 'volume_fetcher_image',
    scope: 'serve',
    help: 'kubernetes runtime: the init container image (with sh and curl) that fetches volume versions into pods (default curlimages/curl:8.11.1)',
  },
  registryAuth: {
    flag: '--registry-auth',
    arg: 'file',
    env: 'GANTRY_REGISTRY_AUTH',
    file: 'registry_auth',
    scope: 'serve',
    help: 'Docker-style config.json with registry credentials (docker runtime)',
  },
  registry: {
    flag: '--registry',
    arg: 'off|host:port',
    env: 'GANTRY_REGISTRY',
    file: 'registry',
    scope: 'serve',
    help: `the image registry jig pushes to, run by Gantry (CNCF distribution): off, or the address it listens on (default ${DEFAULT_REGISTRY_LISTEN} when docker-registry is installed)`,
  },
  gpus: {
    flag: '--gpus',
    arg: 'TYPE:COUNT,…',
    env: 'GANTRY_GPUS',
    file: 'gpus',
    scope: 'serve',
    help: `declare GPUs instead of detecting them with nvidia-smi (types: ${GPU_TYPES.join(', ')})`,
  },
  demo: {
    flag: '--demo',
    arg: 'on|off',
    env: 'GANTRY_DEMO',
    file: 'demo',
    scope: 'serve',
    help: `try endpoints without a GPU: ${DEMO_GPUS} simulated (unless --gpus) and the example engine instead of vLLM`,
  },
  publicUrl: {
    flag: '--public-url',
    arg: 'url',
    env: 'GANTRY_PUBLIC_URL',
    file: 'public_url',
    scope: 'serve',
    help: 'this server as replicas reach it (default the listen address)',
  },
  holdMax: {
    flag: '--hold-max',
    arg: 'n',
    env: 'GANTRY_HOLD_MAX',
    file: 'hold_max',
    scope: 'serve',
    help: `requests the gateway holds per deployment while no replica is ready (default ${DEFAULT_HOLD.maxHeld})`,
  },
  holdTimeoutSeconds: {
    flag: '--hold-timeout',
    arg: 'seconds',
    env: 'GANTRY_HOLD_TIMEOUT',
    file: 'hold_timeout',
    scope: 'serve',
    help: `how long the gateway holds a request for a ready replica (default ${DEFAULT_HOLD.maxWaitMs / 1000})`,
  },
  scaleDownWindowSeconds: {
    flag: '--scale-down-window',
    arg: 'seconds',
    env: 'GANTRY_SCALE_DOWN_WINDOW',
    file: 'scale_down_window',
    scope: 'serve',
    help: 'autoscaler scale-down stabilization window (default 300)',
  },
  idleGraceSeconds: {
    flag: '--idle-grace',
    arg: 'seconds',
    env: 'GANTRY_IDLE_GRACE',
    file: 'idle_grace',
    scope: 'serve',
    help: 'idle time before an autoscaled deployment with min_replicas 0 goes to zero (default 300)',
  },
  fetchAllow: {
    flag: '--fetch-allow',
    arg: 'ADDRESS|CIDR,…',
    env: 'GANTRY_FETCH_ALLOW',
    file: 'fetch_allow',
    scope: 'serve',
    help: 'private addresses model sources may be fetched from (by default only public addresses are; loopback, private, link-local and metadata addresses are refused)',
  },
  metricsToken: {
    flag: '--metrics-token',
    arg: 'token',
    env: 'GANTRY_METRICS_TOKEN',
    file: 'metrics_token',
    scope: 'serve',
    help: 'when set, GET /metrics needs "Authorization: Bearer <token>" (its series name every project and deployment); default: open',
  },
  metricsListen: {
    flag: '--metrics-listen',
    arg: 'HOST:PORT',
    env: 'GANTRY_METRICS_LISTEN',
    file: 'metrics_listen',
    scope: 'serve',
    help: "serve GET /metrics on this address only (e.g. the scraper's private network), not on --listen; default: on --listen",
  },
  rateLimit: {
    flag: '--rate-limit',
    arg: 'n',
    env: 'GANTRY_RATE_LIMIT',
    file: 'rate_limit',
    scope: 'serve',
    help: 'API requests per second per key, then 429 with Retry-After (deployment traffic and inference are not counted); 0: none (default 1000)',
  },
  maxLongPolls: {
    flag: '--max-long-polls',
    arg: 'n',
    env: 'GANTRY_MAX_LONG_POLLS',
    file: 'max_long_polls',
    scope: 'serve',
    help: 'queue long polls one key may hold open at once, then 429; 0: none (default 100)',
  },
  jobRetentionDays: {
    flag: '--job-retention-days',
    arg: 'days',
    env: 'GANTRY_JOB_RETENTION_DAYS',
    file: 'job_retention_days',
    scope: 'serve',
    help: 'finished queue jobs (done, failed, canceled) are deleted this many days after they end; 0 keeps them (default 7)',
  },
  gatewayWorkers: {
    flag: '--gateway-workers',
    arg: 'n',
    env: 'GANTRY_GATEWAY_WORKERS',
    file: 'gateway_workers',
    scope: 'serve',
    help: 'processes that share the listen socket and serve the data plane (deployment requests, inference, WebSocket); 1: this process alone (default 1)',
  },
  leaderLeaseSeconds: {
    flag: '--leader-lease-seconds',
    arg: 's',
    env: 'GANTRY_LEADER_LEASE_SECONDS',
    file: 'leader_lease_seconds',
    scope: 'serve',
    help: 'several instances on one PostgreSQL: another takes over this long after the leader stops renewing (default 3)',
  },
  reconcileConcurrency: {
    flag: '--reconcile-concurrency',
    arg: 'n',
    env: 'GANTRY_RECONCILE_CONCURRENCY',
    file: 'reconcile_concurrency',
    scope: 'serve',
    help: 'deployments the controller reconciles at once; the rest wait their turn (default 4)',
  },
  tls: {
    flag: '--tls',
    arg: 'mode',
    env: 'GANTRY_TLS',
    file: 'tls',
    scope: 'serve',
    help: 'self-signed: serve HTTPS with a certificate for localhost and 127.0.0.1 made in the data dir (default off)',
  },
  tlsCert: {
    flag: '--tls-cert',
    arg: 'file',
    env: 'GANTRY_TLS_CERT',
    file: 'tls_cert',
    scope: 'serve',
    help: 'serve HTTPS with this PEM certificate (chain); needs --tls-key',
  },
  tlsKey: { flag: '--tls-key', arg: 'file', env: 'GANTRY_TLS_KEY', file: 'tls_key', scope: 'serve', help: 'the PEM private key of --tls-cert' },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;
