/**
 * What idle and trickling clients cost a running `gantry serve` (compiled, SQLite): its resident
 * memory before, with 10,000 idle connections (connected, nothing sent), with 1,000 clients
 * trickling a request body (headers, then a byte a second), and after the server has cut them.
 * Run it as:
 *
 *   npm run build && node --import tsx bench/connections.ts   (needs about 12,000 open files per process: ulimit -n)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGantry } from './lib/gantry.js';

const IDLE = Number(process.env.BENCH_IDLE ?? 10_000);
const TRICKLING = Number(process.env.BENCH_TRICKLING ?? 1_000);
const KEY = 'bench-admin-key-0123456789abcdef0123456789';
const dir = mkdtempSync(join(tmpdir(), 'gantry-conn-'));
const server = await startGantry(dir, KEY);
const { hostname, port } = new URL(server.url);
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const open = (n: number, onOpen: (s: Socket) => void = () => {}) =>
  Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect({ host: hostname, port: Number(port) }, () => (onOpen(s), resolve(s)));
          s.on('error', reject);
        }),
    ),
  );
const alive = (sockets: Socket[]) => sockets.filter((s) => !s.destroyed && !s.readableEnded).length;

await sleep(1000);
const base = rssMiB();
const idle: Socket[] = [];
for (let i = 0; i < IDLE; i += 1000) idle.push(...(await open(Math.min(1000, IDLE - i))));
for (const s of idle) s.on('close', () => {});
await sleep(2000);
const withIdle = rssMiB();

const tricklers = await open(TRICKLING, (s) =>
  s.write(`POST /v1/deployments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`),
);
const drip = setInterval(() => tricklers.forEach((s) => !s.destroyed && s.write(' ')), 1000);
for (const s of tricklers) s.on('error', () => {});
await sleep(5000);
const withTricklers = rssMiB();
await sleep(20_000);
clearInterval(drip);
const tricklersLeft = alive(tricklers);
const idleLeftAfter25s = alive(idle);
await sleep(40_000);
const idleLeftAfter65s = alive(idle);
const after = rssMiB();
const row = (what: string, mib: number, note = '') => console.log(`| ${what} | ${mib.toFixed(0)} MiB | ${note} |`);
console.log('| State | Gantry RSS | |\n|---|---|---|');
row('started, no client', base);
row(`${IDLE} idle connections`, withIdle, `+${(((withIdle - base) * 1024) / IDLE).toFixed(1)} KiB each`);
row(`+ ${TRICKLING} trickling bodies (5 s in)`, withTricklers, `+${(((withTricklers - withIdle) * 1024) / TRICKLING).toFixed(1)} KiB each`);
row('65 s later', after, `tricklers still connected after 25 s: ${tricklersLeft}; idle ones after 25 s: ${idleLeftAfter25s}, after 65 s: ${idleLeftAfter65s}`);
for (const s of [...idle, ...tricklers]) s.destroy();
await server.stop();
rmSync(dir, { recursive: true, force: true });
