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
 * The reference proxy: Debian's nginx, one worker process, proxy_pass to `upstreamPort` with
 * keep-alive upstream connections, files under `work`. Answers its port and how to stop it.
 */
export async function startNginx(work: string, upstreamPort: string | number) {
  if (spawnSync('nginx', ['-v']).status !== 0) throw new Error("nginx is not installed (Debian's nginx package)");
  const port = await freePort();
  writeFileSync(
    join(work, 'nginx.conf'),
    `daemon off;
worker_processes 1;
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${work}/tmp;
  proxy_temp_path ${work}/tmp;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  const proc = spawn('nginx', ['-c', join(work, 'nginx.conf'), '-p', work], { stdio: 'inherit' });
  return { port, stop: () => proc.kill('SIGQUIT') };
}
