import type { Clock } from './clock.js';

/**
 * Runs `task` every `ms` on the clock until the answered function is called. A failed run goes
 * to `onError` and the next run tries again. A periodic chore never keeps Node alive.
 */
export function every(clock: Clock, ms: number, task: () => Promise<unknown>, onError: (err: Error) => void): () => void {
  const timer = clock.setInterval(() => void task().catch(onError), ms);
  return () => timer.cancel();
}
