import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { SETTINGS } from './settings-table.js';

/**
 * The config file's JSON Schema, generated from the settings table (each setting's file key
 * takes a string, number or boolean, parsed like its flag) plus the structured settings only the
 * file can hold. Unknown keys are refused, so a typo is an error rather than a setting ignored.
 */
const scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

const CatalogModel = Type.Object({
  id: Type.String({ minLength: 1 }),
  type: Type.Union(['chat', 'language', 'code', 'image', 'embedding', 'moderation', 'rerank'].map((t) => Type.Literal(t))),
  memory_gb: Type.Number({ exclusiveMinimum: 0 }),
  display_name: Type.Optional(Type.String()),
  organization: Type.Optional(Type.String()),
  context_length: Type.Optional(Type.Integer({ minimum: 1 })),
  license: Type.Optional(Type.String()),
  link: Type.Optional(Type.String()),
  weights: Type.Optional(Type.String()),
  created: Type.Optional(Type.Integer()),
});

const strings = Type.Array(Type.String());
const EngineTemplate = Type.Partial(
  Type.Object({
    image: Type.String(),
    command: strings,
    args: strings,
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    health_check_path: Type.String(),
    no_prompt_cache_args: strings,
    speculative_args: strings,
    lora_args: strings,
  }),
  { additionalProperties: false },
);

const ConfigFile = Type.Object(
  {
    ...Object.fromEntries(Object.values(SETTINGS).map((s) => [s.file, Type.Optional(scalar)])),
    models: Type.Optional(Type.Array(CatalogModel)),
    engine: Type.Optional(EngineTemplate),
    gpu_prices: Type.Optional(Type.Record(Type.String(), Type.Number({ minimum: 0 }))),
    availability_zones: Type.Optional(strings),
    local_model_dirs: Type.Optional(strings),
  },
  { additionalProperties: false },
);

export type ConfigFileContent = Static<typeof ConfigFile> & Record<string, unknown>;

const validate = new Ajv({ allErrors: false, strict: false }).compile(ConfigFile);

/** The file's content, or why it does not fit the schema (naming the key and the rule). */
export function checkConfigFile(content: unknown): { ok: true; file: ConfigFileContent } | { ok: false; why: string } {
  if (validate(content)) return { ok: true, file: content as ConfigFileContent };
  const e = validate.errors![0]!;
  const key = e.instancePath.slice(1).replaceAll('/', '.') || '(top level)';
  if (e.keyword === 'additionalProperties') {
    const unknown = String(e.params.additionalProperty);
    const known = e.instancePath === '' ? ` (known: ${Object.keys(ConfigFile.properties).join(', ')})` : '';
    return { ok: false, why: `unknown setting '${e.instancePath ? `${key}.` : ''}${unknown}'${known}` };
  }
  return { ok: false, why: `${key} ${e.message}` };
}
