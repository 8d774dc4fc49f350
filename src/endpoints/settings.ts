import type { CatalogModel } from './catalog.js';
import type { EngineTemplate } from './engine.js';

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
  hubUrl: 'https://huggingface.co',
};
