import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/**
 * The reference proxy: Debian's nginx, `workers` worker processes (default one), proxy_pass to
 * the upstream ports (round robin) with keep-alive upstream connections, files under `work`.
 * Answers its port and how to stop it.
 */
export async function startNginx(work: string, upstreamPorts: string | number | (string | number)[], workers = 1) {
  const ports = Array.isArray(upstreamPorts) ? upstreamPorts : [upstreamPorts];
  if (spawnSync('nginx', ['-v']).status !== 0) throw new Error("nginx is not installed (Debian's nginx package)");
  const port = await freePort();
  const conf = join(work, `nginx-${port}.conf`);
  writeFileSync(
    conf,
    `daemon off;
worker_processes ${workers};
pid ${work}/nginx-${port}.pid;
error_log ${work}/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${work}/tmp;
  proxy_temp_path ${work}/tmp;
  upstream up { ${ports.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  const proc = spawn('nginx', ['-c', conf, '-p', work], { stdio: 'inherit' });
  return { port, stop: () => proc.kill('SIGQUIT') };
}
