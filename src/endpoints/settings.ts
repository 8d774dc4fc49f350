import type { CatalogModel } from './catalog.js';
import type { EngineTemplate } from './engine.js';
import type { DownloadOptions } from './download.js';

/** Dedicated endpoints' settings (the config file's `models`, `engine`, `gpu_prices`, …). */
export interface EndpointsConfig {
  /** Models added to the built-in catalog (`models`); one with a built-in id replaces it. */
  catalog: CatalogModel[] | undefined;
  /** Overrides of the inference engine's template (`engine`). */
  engine: Partial<EngineTemplate>;
  /** Cents per GPU per minute by GPU type (`gpu_prices`). */
  gpuPrices: Record<string, number>;
  /** What GET /v1/clusters/availability-zones lists (`availability_zones`). */
  availabilityZones: string[];
  /** Folders a model upload's local model_source may be in (`local_model_dirs`). */
  localModelDirs: string[];
  /** Private addresses and ranges model sources may still be fetched from (`--fetch-allow`). */
  fetchAllow: string[];
  /** The Hugging Face Hub models are fetched from (HF_ENDPOINT). */
  hubUrl: string;
}

/** Endpoint settings when the config file names none. */
export const DEFAULT_ENDPOINTS: EndpointsConfig = {
  catalog: undefined,
  engine: {},
  gpuPrices: {},
  availabilityZones: ['local'],
  localModelDirs: [],
  fetchAllow: [],
  hubUrl: 'https://huggingface.co',
};

/** How model uploads fetch weights (from the settings and the data dir). */
export interface ImportOptions extends Omit<DownloadOptions, 'clock'> {
  /** The Hugging Face Hub (HF_ENDPOINT), https://huggingface.co by default. */
  hubUrl: string;
  /** Folders local model_source paths may come from; none: local paths are refused. */
  localRoots: string[];
  /** Where downloads land before storage, per model; a failed job's partial files stay to be resumed. */
  workDir: string;
}
