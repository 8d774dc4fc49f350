/** A model Gantry offers for dedicated endpoints (from the config file's `models`). */
export interface CatalogModel {
  id: string;
  type: 'chat' | 'language' | 'code' | 'image' | 'embedding' | 'moderation' | 'rerank';
  display_name?: string;
  organization?: string;
  context_length?: number;
  license?: string;
  link?: string;
  /** GPU memory the model needs, in GB: only hardware with at least this much is offered. */
  memory_gb: number;
  /** What the engine is given as the model: a path or a Hugging Face id (the default: `id`). */
  weights?: string;
  created?: number;
}

/**
 * The catalog when the config names none: open models vLLM serves well. Their weights are
 * fetched by the engine itself (from Hugging Face), which needs network access.
 */
export const DEFAULT_CATALOG: CatalogModel[] = [
  { id: 'meta-llama/Llama-3.1-8B-Instruct', type: 'chat', organization: 'Meta', context_length: 131072, license: 'llama3.1', memory_gb: 24 },
  { id: 'Qwen/Qwen2.5-7B-Instruct', type: 'chat', organization: 'Qwen', context_length: 32768, license: 'apache-2.0', memory_gb: 24 },
  { id: 'mistralai/Mistral-7B-Instruct-v0.3', type: 'chat', organization: 'mistralai', context_length: 32768, license: 'apache-2.0', memory_gb: 24 },
  { id: 'BAAI/bge-large-en-v1.5', type: 'embedding', organization: 'BAAI', context_length: 512, license: 'mit', memory_gb: 4 },
];
