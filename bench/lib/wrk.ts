import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WrkRow {
  title: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/**
 * Runs wrk (one thread, so the load generator takes as little of the machine as it can) with
 * a Lua script written into `dir`, and reads requests/s, p50, p99 (ms) and non-2xx answers.
 */
export function wrk(dir: string, title: string, url: string, script: string, seconds: number, connections: number): WrkRow {
  const path = join(dir, `${title.replace(/\W+/g, '-')}.lua`);
  writeFileSync(path, script);
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', path, url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const ms = (label: string) => {
    const m = new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)`).exec(r.stdout)!;
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
  };
  const bad = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { title, rps: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)![1])), p50: ms('50%'), p99: ms('99%'), errors: bad };
}
