import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './nginx.js';

/** Server slots of the backend: as many replicas as it can route to. */
const SLOTS = 64;

/**
 * Debian's HAProxy as a data plane fed from outside: an HTTP frontend whose backend has
 * SLOTS disabled server slots (`server-template`), each filled and emptied through the runtime
 * API (`set server … addr … port …`, `state ready|maint`), as HAProxy's own Kubernetes ingress
 * controller feeds it. (HAProxy 2.6's `add server` was measured here too: dynamic servers
 * reused upstream connections so poorly that throughput fell to a third.) `threads` is nbthread.
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
  server-template s 1-${SLOTS} 127.0.0.1:1 disabled
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
    /** Makes the backend's servers exactly `addresses` (by replica id), through the runtime API; `slots` remembers which slot holds which. */
    async setServers(addresses: Map<string, string>, slots: Map<string, number>) {
      for (const [name, slot] of slots) {
        if (addresses.has(name)) continue;
        await command(`set server up/s${slot} state maint`);
        slots.delete(name);
      }
      const taken = new Set(slots.values());
      for (const [name, address] of addresses) {
        if (slots.has(name)) continue;
        const slot = [...Array(SLOTS).keys()].map((i) => i + 1).find((i) => !taken.has(i));
        if (slot === undefined) throw new Error(`more than ${SLOTS} replicas`);
        const [host, port] = address.split(':');
        await command(`set server up/s${slot} addr ${host} port ${port}`);
        const ready = await command(`set server up/s${slot} state ready`);
        if (ready.trim()) throw new Error(`haproxy set server: ${ready}`);
        slots.set(name, slot);
        taken.add(slot);
      }
    },
    stop: () => proc.kill('SIGTERM'),
  };
}
