import { findBwrap, probeBwrap } from '../runtime/process/sandbox.js';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { DockerApi } from '../runtime/docker/docker-api.js';
import { detectGpus } from '../runtime/gpus.js';
import pg from 'pg';

/**
 * `gantry doctor`: what this machine has for each runtime and feature, and what to install
 * or set where something is missing. Only a check the user asked for (a --docker-host or
 * --database given) fails the command; the rest are advice.
 */
export async function doctor(o: { dockerHost: string | undefined; databaseUrl: string | undefined }, print: (line: string) => void): Promise<number> {
  let failed = 0;
  const ok = (what: string) => print(`ok    ${what}`);
  const missing = (what: string, hint: string, required = false) => {
    if (required) failed++;
    print(`${required ? 'FAIL' : 'warn'}  ${what}\n      → ${hint}`);
  };
  const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  if (major > 20 || (major === 20 && minor >= 18)) ok(`Node.js ${process.versions.node}`);
  else missing(`Node.js ${process.versions.node}`, 'Gantry needs Node.js 20.18 or newer', true);

  print('\nprocess runtime (the default):');
  ok('replicas run as child processes of gantry serve; nothing to install');
  const bwrap = findBwrap();
  const why = bwrap ? probeBwrap(bwrap) : 'bubblewrap (bwrap) not found';
  if (why === null) ok('bubblewrap works here: each replica is sandboxed (its own user, PID and mount namespaces; the data dir hidden)');
  else
    missing(
      `replicas cannot be sandboxed: ${why}`,
      'apt-get install bubblewrap (and allow user namespaces); until then every replica can read the data dir and every other replica',
    );

  print('\nGPUs:');
  const gpus = has('nvidia-smi') ? detectGpus() : [];
  if (gpus.length) ok(`${gpus.length} GPU(s) detected with nvidia-smi: ${[...new Set(gpus.map((g) => g.type))].join(', ')}`);
  else
    missing(
      'no GPU detected (nvidia-smi missing or lists none)',
      'CPU-only deployments work (gpu_type "none"); to try endpoints, run gantry serve --demo, or declare GPUs with --gpus h100-80gb:2',
    );

  print('\ndocker runtime (--runtime docker):');
  const host = o.dockerHost ?? 'unix:///var/run/docker.sock';
  const podman = has('podman');
  try {
    const api = new DockerApi(host);
    try {
      const { body: v } = await api.call<{ Version?: string; Components?: { Name: string }[] }>('GET', '/version');
      ok(`Docker Engine API at ${host} answers (${v.Components?.[0]?.Name ?? 'engine'} ${v.Version ?? ''})`);
    } finally {
      await api.close();
    }
  } catch (err) {
    const hint = podman
      ? `start Podman's Docker-compatible service: podman system service --time=0 unix:///run/podman.sock, then --docker-host unix:///run/podman.sock`
      : 'apt-get install podman runc (or run a Docker Engine) and point --docker-host at its socket';
    missing(`no Docker Engine API at ${host}: ${(err as Error).message}`, hint, o.dockerHost !== undefined);
  }
  if (podman) {
    const conf = process.env.CONTAINERS_CONF ?? '/etc/containers/containers.conf';
    const text = existsSync(conf) ? readFileSync(conf, 'utf8') : '';
    if (!has('runc')) missing('runc not found', 'apt-get install runc (Podman on kernels like this one needs runc rather than crun)');
    else if (!/^\s*runtime\s*=\s*"runc"/m.test(text)) missing(`${conf} does not choose runc`, 'add runtime = "runc" under [engine]');
    else ok(`${conf} chooses runc`);
    if (!/^\s*default_ulimits\s*=\s*\[\s*\]/m.test(text))
      missing(
        `${conf} keeps Podman's default ulimits`,
        'add default_ulimits = [] under [containers] where containers cannot raise rlimits ("error setting rlimit")',
      );
  }

  print('\nPostgreSQL (several instances, --database postgres://…):');
  if (o.databaseUrl?.startsWith('postgres')) {
    const shown = o.databaseUrl.replace(/\/\/[^@]*@/, '//…@');
    // Only asked whether it answers: no schema is made in a database doctor is pointed at.
    const client = new pg.Client({ connectionString: o.databaseUrl, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      ok(`${shown} reachable`);
    } catch (err) {
      missing(`cannot open ${shown}: ${(err as Error).message}`, 'check the URL, that the server runs and accepts this user', true);
    } finally {
      await client.end().catch(() => undefined);
    }
  } else if (existsSync('/usr/lib/postgresql')) ok("Debian's postgresql is installed (give --database postgres://USER@HOST/DB to check a server)");
  else missing('PostgreSQL not checked', 'SQLite is the default and needs nothing; for PostgreSQL give --database postgres://USER@HOST/DB here');

  print('\nimage registry:');
  if (has('docker-registry')) ok('docker-registry (the CNCF distribution registry) found');
  else
    missing(
      'docker-registry not found',
      "Gantry does not start a registry itself yet; apt-get install docker-registry (Debian's CNCF distribution registry) to host images for --runtime docker, with --registry-auth",
    );

  print(failed ? `\n${failed} required check(s) failed` : '\nnothing required is missing');
  return failed ? 1 : 0;
}
