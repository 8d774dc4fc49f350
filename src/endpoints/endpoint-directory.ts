import { TtlCache } from '../domain/ttl-cache.js';
import type { EndpointRecord } from '../store/endpoint-store.js';
import type { Store } from '../store/store.js';

/** What inference needs to know of an endpoint named in a request. */
export interface EndpointRoute {
  id: string;
  name: string;
  state: EndpointRecord['state'];
  /** The name of the deployment running its engine (the gateway's routing key). */
  engine: string;
}

/**
 * Endpoint names to their engines, for the inference routes: one store query per name and
 * second, not one per request. This instance forgets a name as soon as it changes the endpoint
 * (stop, start, delete); a change made through another instance shows within a second.
 */
export class EndpointDirectory {
  private readonly cache: TtlCache<string, EndpointRoute>;

  constructor(
    private readonly store: Store,
    ttlMs = 1000,
  ) {
    this.cache = new TtlCache(ttlMs);
  }

  resolve(projectId: string, name: string): EndpointRoute | Promise<EndpointRoute | undefined> {
    return this.cache.get(`${projectId}\0${name}`, () => this.store.endpoints.findRoute(projectId, name));
  }

  forget(projectId: string, name: string) {
    this.cache.forget(`${projectId}\0${name}`);
  }
}
