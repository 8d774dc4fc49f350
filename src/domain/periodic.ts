/**
 * Runs `task` every `ms` until the answered function is called. A failed run goes to `onError`
 * and the next run tries again. The timer is unref'd: a periodic chore never keeps Node alive.
 */
export function every(ms: number, task: () => Promise<unknown>, onError: (err: Error) => void): () => void {
  const timer = setInterval(() => void task().catch(onError), ms);
  timer.unref();
  return () => clearInterval(timer);
}
