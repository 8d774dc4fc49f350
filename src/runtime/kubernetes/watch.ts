import * as k8s from '@kubernetes/client-node';
import type { Clock } from '../../domain/clock.js';

/** A watch that has seen no event (nor a relist) for this long is restarted. */
const STALE_MS = 5 * 60_000;

/**
 * An informer (list, then watch from the list's resourceVersion; client-node relists on 410)
 * that stays up: client-node 1.x stops an informer for good on any other error, so it is
 * started again with backoff (1 s doubling to 30 s), and restarted when it has been quiet
 * for five minutes. Every add, update and delete calls `changed` with the object.
 */
export class Watch<T extends k8s.KubernetesObject> {
  readonly cache: k8s.Informer<T> & k8s.ObjectCache<T>;
  private lastEvent = 0;
  private delayMs = 1000;
  private closed = false;
  private watchdog: { cancel(): void } | null = null;

  constructor(
    private readonly what: string,
    kubeconfig: k8s.KubeConfig,
    path: string,
    list: () => Promise<k8s.KubernetesListObject<T>>,
    labelSelector: string,
    changed: (obj: T) => void,
    private readonly clock: Clock,
    private readonly log?: (msg: string, fields?: object) => void,
  ) {
    this.cache = k8s.makeInformer(kubeconfig, path, list, labelSelector);
    const seen = (obj: T) => {
      this.lastEvent = clock.nowMs();
      changed(obj);
    };
    this.cache.on('add', seen);
    this.cache.on('update', seen);
    this.cache.on('delete', seen);
    this.cache.on('connect', () => {
      this.lastEvent = clock.nowMs();
      this.delayMs = 1000;
    });
    this.cache.on('error', (err: unknown) => this.restart(`failed: ${(err as Error)?.message ?? err}`));
  }

  async start() {
    await this.cache.start();
    this.lastEvent = this.clock.nowMs();
    this.watchdog = this.clock.setInterval(() => {
      if (this.clock.nowMs() - this.lastEvent > STALE_MS) this.restart('no event for 5 minutes');
    }, 30_000);
  }

  async stop() {
    this.closed = true;
    this.watchdog?.cancel();
    await this.cache.stop();
  }

  private restart(why: string) {
    if (this.closed) return;
    this.log?.(`kubernetes: restarting the watch of ${this.what}`, { reason: why, inMs: this.delayMs });
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, 30_000);
    this.lastEvent = this.clock.nowMs();
    this.clock.setTimeout(() => {
      if (this.closed) return;
      void this.cache
        .stop()
        .then(() => this.cache.start())
        .catch((err: Error) => this.restart(err.message));
    }, delay);
  }
}
