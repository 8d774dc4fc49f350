import type { AutoscalingConfig } from '../contract/schemas/deployment.js';
import { errors } from '../contract/errors.js';

/** Each metric's own fields and defaults, as Together documents them. */
const METRIC_FIELDS: Record<string, { fields: string[]; defaults: Partial<AutoscalingConfig> }> = {
  HTTPTotalRequests: { fields: ['target', 'time_interval_minutes'], defaults: { target: 100, time_interval_minutes: 10 } },
  HTTPAvgRequestDuration: { fields: ['target', 'time_interval_minutes'], defaults: { target: 500, time_interval_minutes: 10 } },
  QueueBacklogPerWorker: { fields: ['target', 'model'], defaults: { target: 1.01 } },
  CustomMetric: { fields: ['target', 'custom_metric_name'], defaults: { target: 500 } },
  // Gantry's own, not Together's: requests in flight per replica (a server that works on one at a time: 1).
  ConcurrentRequests: { fields: ['target', 'time_interval_minutes'], defaults: { target: 1, time_interval_minutes: 1 } },
};

/**
 * Normalises an autoscaling config: null (or `{}`) disables autoscaling; otherwise the
 * metric is required, fields of other metrics are refused, and defaults are filled in.
 * QueueBacklogPerWorker's `model` defaults to the deployment's name.
 */
export function normalizeAutoscaling(input: AutoscalingConfig | null | undefined, deploymentName: string): AutoscalingConfig | null {
  if (!input || Object.keys(input).length === 0) return null;
  const metric = input.metric;
  if (!metric) {
    throw errors.invalid(
      'autoscaling.metric',
      `autoscaling.metric is required: one of ${Object.keys(METRIC_FIELDS).join(', ')} (send {} or null to disable autoscaling)`,
    );
  }
  const rule = METRIC_FIELDS[metric]!;
  for (const key of Object.keys(input)) {
    if (key !== 'metric' && !rule.fields.includes(key)) {
      throw errors.invalid(`autoscaling.${key}`, `autoscaling.${key} does not apply to metric ${metric} (allowed: ${rule.fields.join(', ')})`);
    }
  }
  if (metric === 'CustomMetric' && !input.custom_metric_name) {
    throw errors.invalid('autoscaling.custom_metric_name', 'autoscaling.custom_metric_name is required for metric CustomMetric');
  }
  const out: AutoscalingConfig = { metric, ...rule.defaults, ...input };
  if (metric === 'QueueBacklogPerWorker' && !out.model) out.model = deploymentName;
  return out;
}

/**
 * The most requests the gateway sends one replica at once: with ConcurrentRequests, the target
 * rounded up (a server that works on one request at a time gets one, and the others wait in the
 * gateway for the first replica with room, new ones included); otherwise no limit.
 */
export function replicaCapacity(autoscaling: AutoscalingConfig | null | undefined): number | undefined {
  return autoscaling?.metric === 'ConcurrentRequests' ? Math.max(1, Math.ceil(autoscaling.target ?? 1)) : undefined;
}
