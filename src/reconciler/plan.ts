import type { ReplicaState, RevisionSpec, RevisionTarget } from '../runtime/types.js';

/**
 * Rolling update plan, pure: given the revision that should run, how many replicas it should
 * have, and what runs now, answer the targets for the driver.
 *
 * - The current revision is asked for all `desired` replicas at once: new replicas start first.
 * - Older revisions keep only replicas that are ready, and only as many as the current revision
 *   still lacks in ready replicas; so a deployment that was serving never drops to zero ready
 *   replicas, and a new revision that never becomes ready leaves the old one serving.
 * - Replicas of older revisions that are not ready are dropped at once: they serve nobody.
 * - desired = 0 stops everything (scale to zero).
 */
export function planRollout(current: RevisionSpec, desired: number, observed: ReplicaState[]): RevisionTarget[] {
  const targets: RevisionTarget[] = [{ revisionId: current.revisionId, replicas: desired, revision: current }];
  if (desired === 0) return targets;
  const readyNew = observed.filter((r) => r.revisionId === current.revisionId && r.readySince).length;
  let stillNeeded = Math.max(0, desired - readyNew);
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
