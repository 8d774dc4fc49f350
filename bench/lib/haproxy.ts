import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './nginx.js';

/**
 * Debian's HAProxy as a data plane fed from outside: an HTTP frontend whose backend starts
 * empty; servers are added and removed through the runtime API (`add server`, as a controller
 * would from Gantry's routing table). `threads` is nbthread.
 */
export async function startHaproxy(work: string, threads: number) {
  if (spawnSync('haproxy', ['-v']).status !== 0) throw new Error("haproxy is not installed (Debian's haproxy package)");
  const port = await freePort();
  const socket = join(work, `haproxy-${port}.sock`);
  const conf = join(work, `haproxy-${port}.cfg`);
  writeFileSync(
    conf,
    `global
  nbthread ${threads}
  stats socket ${socket} mode 600 level admin
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  default_backend up
backend up
  balance roundrobin
`,
  );
  const proc = spawn('haproxy', ['-f', conf, '-db'], { stdio: 'inherit' });
  // The runtime API: one command per connection, answered then closed.
  const command = (cmd: string) =>
    new Promise<string>((resolve, reject) => {
      let out = '';
      const s = connect(socket, () => s.end(`${cmd}\n`));
      s.on('data', (d) => (out += d));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
  for (let i = 0; i < 100; i++) {
    if (await command('show info').catch(() => null)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    /** Makes the backend's servers exactly `addresses` (name: replica id), through the runtime API. */
    async setServers(addresses: Map<string, string>, current: Set<string>) {
      for (const [name, address] of addresses) {
        if (current.has(name)) continue;
        const added = await command(`add server up/${name} ${address}`);
        if (!/New server registered/.test(added)) throw new Error(`haproxy add server: ${added}`);
        await command(`enable server up/${name}`);
        current.add(name);
      }
      for (const name of current) {
        if (addresses.has(name)) continue;
        await command(`disable server up/${name}`);
        await command(`del server up/${name}`);
        current.delete(name);
      }
    },
    stop: () => proc.kill('SIGTERM'),
  };
}
