import type { ReplicaState, RevisionSpec, RevisionTarget } from '../contract/runtime.js';

/**
 * Rolling update plan, pure: given the revision that should run, how many replicas it should
 * have, and what runs now, answer the targets for the driver.
 *
 * - The current revision is asked for all `desired` replicas at once: new replicas start first.
 * - Older revisions keep only replicas that are ready, and only as many as the current revision
 *   still lacks in available replicas; so a deployment that was serving never drops to zero
 *   ready replicas, and a new revision that never becomes ready leaves the old one serving.
 * - A new replica counts as available once it has been ready for `minReadyMs` (Kubernetes'
 *   minReadySeconds), so one that passes a health check and then crashes does not replace
 *   a working one.
 * - Replicas of older revisions that are not ready are dropped at once: they serve nobody.
 * - desired = 0 stops everything (scale to zero).
 */
export function planRollout(current: RevisionSpec, desired: number, observed: ReplicaState[], now: number, minReadyMs: number): RevisionTarget[] {
  const targets: RevisionTarget[] = [{ revisionId: current.revisionId, replicas: desired, revision: current }];
  if (desired === 0) return targets;
  const available = observed.filter((r) => r.revisionId === current.revisionId && r.readySince && now - Date.parse(r.readySince) >= minReadyMs).length;
  let stillNeeded = Math.max(0, desired - available);
  const oldReady = new Map<string, number>();
  for (const r of observed) {
    if (r.revisionId !== current.revisionId && r.readySince) oldReady.set(r.revisionId, (oldReady.get(r.revisionId) ?? 0) + 1);
  }
  // Newest old revision first: revision ids are UUIDv7, so they sort by time.
  for (const [revisionId, ready] of [...oldReady].sort((a, b) => (a[0] < b[0] ? 1 : -1))) {
    const keep = Math.min(ready, stillNeeded);
    if (keep > 0) {
      targets.push({ revisionId, replicas: keep });
      stillNeeded -= keep;
    }
  }
  return targets;
}

/** When a ready replica of the current revision becomes available, if one is still waiting to. */
export function nextAvailability(currentRevisionId: string, observed: ReplicaState[], now: number, minReadyMs: number): number | null {
  const waits = observed
    .filter((r) => r.revisionId === currentRevisionId && r.readySince)
    .map((r) => Date.parse(r.readySince!) + minReadyMs - now)
    .filter((ms) => ms > 0);
  return waits.length ? Math.min(...waits) : null;
}
