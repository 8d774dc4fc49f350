import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from './common.js';

export const ENDPOINT_STATES = ['PENDING', 'STARTING', 'STARTED', 'STOPPING', 'STOPPED', 'ERROR'] as const;

const Autoscaling = Type.Object(
  {
    min_replicas: Type.Integer({ minimum: 0, maximum: 64 }),
    max_replicas: Type.Integer({ minimum: 1, maximum: 64 }),
  },
  { additionalProperties: false },
);
const DesiredState = StringEnum(['STARTED', 'STOPPED'] as const);
const InactiveTimeout = Type.Union([Type.Integer({ minimum: 0, maximum: 525_600, description: 'Minutes without a request before the endpoint stops; null or 0: never' }), Type.Null()]);

export const CreateEndpointRequest = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 300 }),
    hardware: Type.String({ minLength: 1, maxLength: 100 }),
    autoscaling: Autoscaling,
    display_name: Type.Optional(Type.String({ maxLength: 200 })),
    disable_prompt_cache: Type.Optional(Type.Boolean()),
    disable_speculative_decoding: Type.Optional(Type.Boolean()),
    state: Type.Optional(DesiredState),
    inactive_timeout: Type.Optional(InactiveTimeout),
    availability_zone: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);
export type CreateEndpointBody = Static<typeof CreateEndpointRequest>;

export const UpdateEndpointRequest = Type.Object(
  {
    display_name: Type.Optional(Type.String({ maxLength: 200 })),
    state: Type.Optional(DesiredState),
    autoscaling: Type.Optional(Autoscaling),
    inactive_timeout: Type.Optional(InactiveTimeout),
  },
  { additionalProperties: false },
);
export type UpdateEndpointBody = Static<typeof UpdateEndpointRequest>;

export const DedicatedEndpoint = Type.Object({
  object: Type.Literal('endpoint'),
  id: Type.String(),
  name: Type.String(),
  display_name: Type.String(),
  model: Type.String(),
  hardware: Type.String(),
  type: Type.Literal('dedicated'),
  owner: Type.String(),
  state: StringEnum(ENDPOINT_STATES),
  autoscaling: Autoscaling,
  created_at: Type.String(),
  inactive_timeout: Type.Union([Type.Integer(), Type.Null()]),
  disable_prompt_cache: Type.Boolean(),
  disable_speculative_decoding: Type.Boolean(),
  availability_zone: Type.Union([Type.String(), Type.Null()]),
  /** Why the endpoint is in ERROR or PENDING. */
  state_reason: Type.Optional(Type.String()),
  /** The deployment running the endpoint's engine (its logs and replicas). */
  deployment: Type.String(),
});
export type EndpointView = Static<typeof DedicatedEndpoint>;

/** What a list shows of each endpoint (Gantry's are all dedicated); Together's fields, and the hardware and state reason the console shows. */
export const ListEndpointItem = Type.Pick(DedicatedEndpoint, ['object', 'id', 'name', 'model', 'hardware', 'type', 'owner', 'state', 'state_reason', 'created_at']);

export const ListEndpointsQuery = Type.Object({
  type: Type.Optional(StringEnum(['dedicated', 'serverless'] as const)),
  usage_type: Type.Optional(StringEnum(['on-demand', 'reserved'] as const)),
  mine: Type.Optional(Type.Boolean()),
});

export const EndpointParams = Type.Object({ endpointId: Type.String({ minLength: 1, maxLength: 200 }) });

export const HardwareItem = Type.Object({
  object: Type.Literal('hardware'),
  id: Type.String(),
  pricing: Type.Object({ cents_per_minute: Type.Number() }),
  specs: Type.Object({ gpu_type: Type.String(), gpu_link: Type.String(), gpu_memory: Type.Number(), gpu_count: Type.Integer() }),
  availability: Type.Optional(Type.Object({ status: StringEnum(['available', 'unavailable', 'insufficient'] as const) })),
  updated_at: Type.String(),
});
export const HardwareQuery = Type.Object({ model: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })) });

/** `<endpoint name>:<adapter model name>`, as POST and DELETE /v1/endpoints/{id}/adapters take it. */
export const AdapterRequest = Type.Object(
  { model_id: Type.String({ minLength: 3, maxLength: 700, description: '"<endpoint name>:<adapter model name>"' }) },
  { additionalProperties: false },
);
export type AdapterBody = Static<typeof AdapterRequest>;

export const AdapterItem = Type.Object({ adapter_name: Type.String(), endpoint_name: Type.String(), model_id: Type.String() });
export const AdapterAdded = Type.Object({ model_id: Type.String() });
export const AdapterRemoved = Type.Object({ deleted: Type.Boolean(), model_id: Type.String() });
