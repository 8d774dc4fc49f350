import { readFileSync, writeFileSync } from 'node:fs';
import { AUTOSCALING_METRICS, type AutoscalingConfig } from '../contract/schemas/deployment.js';
import { peakFleet, simulate, type SimPolicy, type SimSetup } from '../autoscaler/simulate.js';
import { parseAzureTrace, parseGantryHistory } from '../autoscaler/trace.js';
import { ConfigError } from '../config/config.js';
import { normalizeAutoscaling } from '../domain/autoscaling.js';
import { DEFAULT_GPU_PRICES } from '../endpoints/hardware.js';
import { simulationChart, type SimulationRow } from './simulate-chart.js';

export interface SimulateOptions {
  trace: string;
  deploymentSpec: string;
  policy: string[];
  compress: number;
  chart?: string;
  json?: boolean;
}

/** The deployment spec file: a POST /v1/deployments body, with how its replicas behave under `simulation`. */
interface SpecFile {
  min_replicas?: number;
  max_replicas?: number;
  gpu_type?: string;
  gpu_count?: number;
  autoscaling?: AutoscalingConfig | null;
  simulation?: {
    /** Requests one replica works on at once (default 1). */
    concurrency?: number;
    /** From a replica asked for to ready (default 30: a model server loading). */
    startup_seconds?: number;
    ms_per_context_token?: number;
    ms_per_generated_token?: number;
    scale_down_window_seconds?: number;
    idle_grace_seconds?: number;
    hold_max?: number;
    hold_timeout_seconds?: number;
  };
}

/**
 * `gantry autoscale simulate`: what an autoscaling setting would have cost and what latency it
 * would have given on a recorded trace, for each policy asked for, beside the fixed fleet sized
 * for the busiest minute. Every duration of the spec is divided by `compress` with the trace,
 * so a compressed replay is the same system, faster and as busy.
 */
export async function autoscaleSimulate(o: SimulateOptions, print: (line: string) => void): Promise<SimulationRow[]> {
  const spec = readJson<SpecFile>(o.deploymentSpec, '--deployment-spec');
  const sim = spec.simulation ?? {};
  const c = o.compress;
  if (!(c > 0)) throw new ConfigError(`--compress: must be a number above 0 (got ${o.compress})`);
  let text: string;
  try {
    text = readFileSync(o.trace, 'utf8');
  } catch (err) {
    throw new ConfigError(`--trace: cannot read ${o.trace}: ${(err as Error).message}`);
  }
  const model = { msPerContextToken: sim.ms_per_context_token ?? 0.05, msPerGeneratedToken: sim.ms_per_generated_token ?? 15 };
  let trace;
  try {
    // Gantry's own history is JSON (GET /v1/deployments/{id}/metrics); a recorded trace, CSV.
    trace = text.trimStart().startsWith('{') ? parseGantryHistory(text, c) : parseAzureTrace(text, model, c);
  } catch (err) {
    throw new ConfigError(`--trace ${o.trace}: ${(err as Error).message}`);
  }
  const concurrency = sim.concurrency ?? 1;
  const setup: SimSetup = {
    minReplicas: spec.min_replicas ?? 1,
    maxReplicas: spec.max_replicas ?? spec.min_replicas ?? 1,
    concurrency,
    startupMs: ((sim.startup_seconds ?? 30) * 1000) / c,
    hold: { maxHeld: sim.hold_max ?? 256, maxWaitMs: ((sim.hold_timeout_seconds ?? 120) * 1000) / c },
    stabilizationMs: ((sim.scale_down_window_seconds ?? 300) * 1000) / c,
    idleGraceMs: ((sim.idle_grace_seconds ?? 300) * 1000) / c,
  };
  const peak = peakFleet(trace, concurrency, 60_000 / c);
  const policies = (o.policy.length ? o.policy : ['spec', 'fixed:peak']).map((p) => parsePolicy(p, spec, peak));
  const gpuCount = spec.gpu_count ?? (spec.gpu_type && spec.gpu_type !== 'none' ? 1 : 0);
  const centsPerReplicaMinute = gpuCount * (DEFAULT_GPU_PRICES[spec.gpu_type ?? ''] ?? 0);
  const rows: SimulationRow[] = [];
  for (const policy of policies) {
    const r = await simulate(trace, setup, policy);
    rows.push({ ...r, costDollars: (r.replicaSeconds / 60) * (centsPerReplicaMinute / 100) });
  }
  if (o.json) print(JSON.stringify(rows, null, 2));
  else {
    const span = (trace.at(-1)?.atMs ?? 0) / 1000;
    print(
      `${trace.length} requests over ${span.toFixed(0)} s${c !== 1 ? ` (compressed ${c}×)` : ''}; ${concurrency} at a time per replica, ready ${setup.startupMs / 1000} s after asked for`,
    );
    print('');
    print('| policy | p50 wait ms | p99 wait ms | rejected | replica-seconds | peak replicas | GPU cost |');
    print('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows)
      print(
        `| ${r.policy} | ${r.p50WaitMs.toFixed(1)} | ${r.p99WaitMs.toFixed(1)} | ${r.rejected} | ${r.replicaSeconds.toFixed(0)} | ${r.peakReplicas} | $${r.costDollars.toFixed(2)} |`,
      );
  }
  if (o.chart) {
    writeFileSync(o.chart, simulationChart(rows));
    if (!o.json) print(`\nchart: ${o.chart}`);
  }
  return rows;
}

/** `spec` (the file's autoscaling), `fixed:N` or `fixed:peak`, or `METRIC:TARGET[:WINDOW_MINUTES]`. */
function parsePolicy(text: string, spec: SpecFile, peak: number): SimPolicy {
  if (text === 'spec') {
    if (!spec.autoscaling) throw new ConfigError('--policy spec: the deployment spec has no autoscaling');
    return { name: `spec (${spec.autoscaling.metric} ${spec.autoscaling.target ?? ''})`.replace(' )', ')'), autoscaling: checked(spec.autoscaling) };
  }
  const fixed = /^fixed:(\d+|peak)$/.exec(text);
  if (fixed) {
    const n = fixed[1] === 'peak' ? peak : Number(fixed[1]);
    return { name: `fixed ${n}${fixed[1] === 'peak' ? ' (busiest minute at 70 %)' : ''}`, fixed: n };
  }
  const m = /^([A-Za-z]+):([\d.]+)(?::([\d.]+))?$/.exec(text);
  if (!m || !(AUTOSCALING_METRICS as readonly string[]).includes(m[1]!)) {
    throw new ConfigError(
      `--policy ${text}: expected spec, fixed:N, fixed:peak or METRIC:TARGET[:WINDOW_MINUTES] with METRIC one of ${AUTOSCALING_METRICS.join(', ')}`,
    );
  }
  const cfg = { metric: m[1], target: Number(m[2]), ...(m[3] ? { time_interval_minutes: Number(m[3]) } : {}) } as AutoscalingConfig;
  return { name: text, autoscaling: checked(cfg) };
}

function checked(cfg: AutoscalingConfig): AutoscalingConfig {
  try {
    return normalizeAutoscaling(cfg, 'simulated')!;
  } catch (err) {
    throw new ConfigError(`autoscaling: ${(err as Error).message}`);
  }
}

function readJson<T>(path: string, flag: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new ConfigError(`${flag}: cannot read ${path} as JSON: ${(err as Error).message}`);
  }
}
