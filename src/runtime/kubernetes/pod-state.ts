import type { V1Pod } from '@kubernetes/client-node';
import type { ReplicaState } from '../../contract/runtime.js';
import { ANNOTATIONS, LABELS } from './k8s-objects.js';

/**
 * A pod as Gantry reports a replica (Together's replica events): Waiting with the reason that
 * holds it (Unschedulable and the scheduler's message, ContainerCreating, ImagePullBackOff,
 * CrashLoopBackOff with the last exit), Running (ready since the Ready condition turned
 * true), or Terminated (being deleted, or ended: OOMKilled, Error, Completed). Pure.
 */
export function replicaOf(pod: V1Pod): ReplicaState {
  const labels = pod.metadata?.labels ?? {};
  const container = pod.status?.containerStatuses?.find((c) => c.name === 'app');
  const port = Number(pod.metadata?.annotations?.[ANNOTATIONS.port] ?? 0);
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const base = {
    id: pod.metadata!.name!,
    deploymentId: labels[LABELS.deployment]!,
    revisionId: labels[LABELS.revision] ?? '',
    image: pod.spec?.containers?.[0]?.image ?? '',
    restarts: container?.restartCount ?? 0,
    address: pod.status?.podIP && port ? `${pod.status.podIP}:${port}` : null,
  };
  const lastExit = container?.lastState?.terminated;
  const exited = lastExit ? `; last exit: ${lastExit.reason ?? 'Error'} (code ${lastExit.exitCode})` : '';
  if (pod.metadata?.deletionTimestamp)
    return { ...base, status: 'Terminated', reason: 'Terminating', message: 'the pod is being deleted', readySince: null, address: null };
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') {
    return { ...base, status: 'Waiting', reason: scheduled.reason ?? 'Pending', message: scheduled.message ?? 'waiting to be scheduled', readySince: null };
  }
  const waiting = container?.state?.waiting;
  if (waiting) {
    // Gantry reports a pull that failed as ErrImagePull whichever stage of backoff the kubelet is in.
    const reason = waiting.reason === 'ImagePullBackOff' ? 'ErrImagePull' : (waiting.reason ?? 'Waiting');
    return { ...base, status: 'Waiting', reason, message: `${waiting.message ?? waiting.reason ?? 'waiting'}${exited}`, readySince: null };
  }
  const terminated = container?.state?.terminated;
  if (terminated || pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
    return {
      ...base,
      status: 'Terminated',
      reason: terminated?.reason ?? pod.status?.reason ?? pod.status?.phase ?? 'Terminated',
      message: terminated ? `exited with code ${terminated.exitCode}` : (pod.status?.message ?? ''),
      readySince: null,
      address: null,
    };
  }
  if (container?.state?.running || pod.status?.phase === 'Running') {
    const readySince = ready?.status === 'True' ? toIso(ready.lastTransitionTime) : null;
    return { ...base, status: 'Running', ...(readySince ? {} : { reason: 'NotReady', message: `waiting for the health check${exited}` }), readySince };
  }
  return { ...base, status: 'Waiting', reason: 'ContainerCreating', message: 'the pod is starting', readySince: null };
}

function toIso(t: Date | string | undefined): string | null {
  if (!t) return null;
  return typeof t === 'string' ? t : t.toISOString();
}
