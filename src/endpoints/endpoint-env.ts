import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GpuCapacity } from '../runtime/gpus.js';
import type { Store } from '../store/store.js';
import { DEFAULT_CATALOG, type CatalogModel } from './catalog.js';
import { EndpointDirectory } from './endpoint-directory.js';
import { engineTemplate } from './engine.js';
import type { EngineSite } from './engine-spec.js';
import { HardwareCatalog } from './hardware.js';
import { guardedDispatcher, outboundPolicy } from './outbound.js';
import { DEFAULT_ENDPOINTS, type EndpointsConfig, type ImportOptions } from './settings.js';

/** What endpoints need beyond the command context: the hardware, the models, the engine. */
export interface EndpointEnv extends EngineSite {
  hardware: HardwareCatalog;
  catalog: CatalogModel[];
  availabilityZones: string[];
  /** Where uploaded models may come from. */
  imports: ImportOptions;
  /** The inference routes' view of endpoint names; told when an endpoint changes. */
  directory: EndpointDirectory;
}

/** How model weights are fetched: wait at most 10 s for an answer or the next bytes; resume a dropped download up to 5 times. */
const DOWNLOADS = { timeoutMs: 10_000, attempts: 5, retryDelayMs: 1000 };

/** The endpoints' environment for these GPUs, runtime and settings (the config file's or the defaults). */
export function makeEndpointEnv(
  store: Store,
  o: { gpus: GpuCapacity; runtime: EndpointEnv['runtime']; settings?: EndpointsConfig; downloadsDir?: string; downloads?: Partial<typeof DOWNLOADS> },
): EndpointEnv {
  const s = o.settings ?? DEFAULT_ENDPOINTS;
  return {
    hardware: new HardwareCatalog(o.gpus, s.gpuPrices),
    catalog: withModels(DEFAULT_CATALOG, s.catalog ?? []),
    engine: engineTemplate(o.runtime, s.engine),
    runtime: o.runtime,
    availabilityZones: s.availabilityZones,
    imports: {
      hubUrl: s.hubUrl,
      localRoots: s.localModelDirs,
      workDir: o.downloadsDir ?? join(tmpdir(), 'gantry-downloads'),
      dispatcher: guardedDispatcher(outboundPolicy(s.fetchAllow)),
      ...DOWNLOADS,
      ...o.downloads,
    },
    directory: new EndpointDirectory(store),
  };
}

/** The built-in catalog and the config file's `models`: one of the same id replaces the built-in one. */
function withModels(builtIn: CatalogModel[], configured: CatalogModel[]): CatalogModel[] {
  const ids = new Set(configured.map((m) => m.id));
  return [...builtIn.filter((m) => !ids.has(m.id)), ...configured];
}
