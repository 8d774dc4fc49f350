import type { InstanceRecord } from '../store/cluster-store.js';

/** An instance not heard from for this long is gone. */
export const INSTANCE_LIVE_MS = 10_000;

/**
 * Why this instance cannot join the ones already serving the database, or null. Every
 * instance may become the leader and run the runtime, so all must run the same one; and the
 * process runtime's replicas are the leader's child processes, recorded in its data dir: a
 * new leader can stop the old one's leftovers only on the same machine with the same data dir.
 * The docker runtime against one shared engine and the kubernetes runtime have no such bound.
 */
export function cannotJoin(me: Pick<InstanceRecord, 'host' | 'data_dir' | 'runtime'>, others: InstanceRecord[]): string | null {
  for (const o of others) {
    if (o.runtime !== me.runtime) {
      return `instance ${o.id} (${o.url}) serving this database runs the ${o.runtime} runtime, this one ${me.runtime}: every instance may lead, so all must run the same runtime (--runtime)`;
    }
    if (me.runtime === 'process' && (o.host !== me.host || o.data_dir !== me.data_dir)) {
      return (
        `instance ${o.id} (${o.url}) serves this database from ${o.host}:${o.data_dir}, this one from ${me.host}:${me.data_dir}: ` +
        'several instances with the process runtime must run on one machine with one --data-dir (the leader runs replicas as its own processes, ' +
        "and a new leader must find the old one's). Across machines use the docker runtime against one engine, or kubernetes"
      );
    }
  }
  return null;
}

/** Whether `holder` was an instance on `host` whose process no longer runs (signal 0 finds no such process). */
export function goneFromHost(holder: InstanceRecord | undefined, host: string): boolean {
  if (!holder || holder.host !== host || holder.pid <= 0) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
