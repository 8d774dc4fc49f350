import { fileURLToPath } from 'node:url';

/**
 * How an endpoint's inference engine is started: a deployment of this image/command, whose
 * args are filled from the endpoint. Placeholders: {model} (the weights: a path or an id),
 * {served_model_name} (the endpoint's name, which requests carry as `model`), {gpu_count}
 * (tensor parallel size). `$(PORT)` is the process runtime's port, as in any deployment.
 */
export interface EngineTemplate {
  image: string;
  command: string[];
  args: string[];
  /** The port the engine listens on (the docker runtime; the process runtime gives $(PORT)). */
  port: number;
  health_check_path: string;
  /** Added when the endpoint sets disable_prompt_cache. */
  no_prompt_cache_args: string[];
  /** Added unless the endpoint sets disable_speculative_decoding. */
  speculative_args: string[];
  /** Added when LoRA adapters are bound, followed by one `<name>=<path>` per adapter. */
  lora_args: string[];
}

/** vLLM's OpenAI-compatible server: its image on the docker runtime, its CLI on the process runtime. */
export function defaultEngine(runtime: 'process' | 'docker' | 'kubernetes'): EngineTemplate {
  const common = ['--served-model-name', '{served_model_name}', '--tensor-parallel-size', '{gpu_count}'];
  const docker = runtime !== 'process';
  return {
    image: 'vllm/vllm-openai:latest',
    command: docker ? [] : ['vllm', 'serve', '{model}'],
    args: docker ? ['--model', '{model}', ...common, '--port', '8000'] : [...common, '--host', '127.0.0.1', '--port', '$(PORT)'],
    port: 8000,
    health_check_path: '/health',
    no_prompt_cache_args: ['--no-enable-prefix-caching'],
    speculative_args: [],
    lora_args: ['--enable-lora', '--lora-modules'],
  };
}

/**
 * The template with the config file's `engine` over it. As in Kubernetes, a `command` given
 * without `args` runs as written: the template's args are not appended to it.
 */
export function engineTemplate(runtime: 'process' | 'docker' | 'kubernetes', override: Partial<EngineTemplate>): EngineTemplate {
  const base = defaultEngine(runtime);
  return { ...base, ...override, args: override.args ?? (override.command ? [] : base.args) };
}

/** examples/tiny-engine: a CPU-only OpenAI-compatible engine that takes vLLM's arguments. */
const EXAMPLE_ENGINE_PATH = fileURLToPath(new URL('../../examples/tiny-engine/server.js', import.meta.url));

/** The example engine run by this Node.js on the process runtime (`gantry serve --demo`, tests). */
export function exampleEngine(): Partial<EngineTemplate> {
  return { image: 'gantry/tiny-engine', command: [process.execPath, EXAMPLE_ENGINE_PATH, '{model}'], args: defaultEngine('process').args };
}

export interface EngineInputs {
  model: string;
  servedModelName: string;
  gpuCount: number;
  disablePromptCache: boolean;
  disableSpeculativeDecoding: boolean;
  /** LoRA adapters to serve beside the model: requests name them as `model`. */
  adapters: { name: string; path: string }[];
}

/** The engine's command and args for one endpoint. */
export function engineCommand(t: EngineTemplate, i: EngineInputs): { command: string[]; args: string[] } {
  const fill = (a: string) =>
    a.replaceAll('{model}', i.model).replaceAll('{served_model_name}', i.servedModelName).replaceAll('{gpu_count}', String(i.gpuCount));
  const args = [...t.args, ...(i.disablePromptCache ? t.no_prompt_cache_args : []), ...(i.disableSpeculativeDecoding ? [] : t.speculative_args)].map(fill);
  if (i.adapters.length > 0) args.push(...t.lora_args, ...i.adapters.map((a) => `${a.name}=${a.path}`));
  return { command: t.command.map(fill), args };
}
