import { Type, type Static } from '@sinclair/typebox';
import { StringEnum, flatErrorResponses } from './common.js';

/** Together's queue answers errors flat, not under "error" (QueueError in the contract). */
export const queueErrorResponses = flatErrorResponses;

const Model = Type.String({ minLength: 1, maxLength: 100, description: "The deployment's name" });
const RequestId = Type.String({ minLength: 1, maxLength: 100 });
/** Any JSON object, typed as a record (the queue passes it through). */
const FreeObject = (description: string) => Type.Unsafe<Record<string, unknown>>(Type.Object({}, { additionalProperties: true, description }));

export const SubmitRequest = Type.Object(
  {
    model: Model,
    payload: FreeObject('Input for the worker, passed unchanged'),
    info: Type.Optional(FreeObject('Metadata kept with the job; workers merge updates into it')),
    priority: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000, description: 'Higher first; FIFO within one priority' })),
  },
  { additionalProperties: false },
);
export type SubmitBody = Static<typeof SubmitRequest>;

export const JobRef = Type.Object({ model: Model, request_id: RequestId }, { additionalProperties: false });
export type JobRefBody = Static<typeof JobRef>;
export const ModelRef = Type.Object({ model: Model }, { additionalProperties: false });
export type ModelRefBody = Static<typeof ModelRef>;

export const JobStatusValue = StringEnum(['pending', 'running', 'done', 'failed', 'canceled'] as const);

export const JobStatusResponse = Type.Object({
  request_id: Type.String(),
  model: Type.String(),
  status: JobStatusValue,
  priority: Type.Integer(),
  retries: Type.Integer(),
  created_at: Type.String(),
  claimed_at: Type.Optional(Type.String()),
  done_at: Type.Optional(Type.String()),
  inputs: FreeObject('The submitted payload'),
  outputs: Type.Optional(FreeObject("The worker's outputs, once done")),
  info: FreeObject('Submitted info merged with worker and system updates'),
  warnings: Type.Array(Type.String()),
});

export type JobView = Static<typeof JobStatusResponse>;

/** `GET /v1/queue/jobs` (Gantry's, for the console): a queue's latest jobs, newest first. */
export const JobListQuery = Type.Object(
  {
    model: Model,
    status: Type.Optional(JobStatusValue),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'How many, newest first' })),
  },
  { additionalProperties: false },
);
export type JobListQueryParams = Static<typeof JobListQuery>;
export const JobList = Type.Object({ object: Type.Literal('list'), data: Type.Array(JobStatusResponse) });

export const SubmitResponse = Type.Object({ requestId: Type.String({ description: 'A UUIDv7' }) });
export const ClearResponse = Type.Object({ canceled_count: Type.Integer() });

export const CancelResponse = Type.Object({ status: StringEnum(['canceled', 'running', 'done', 'failed'] as const) });

export const MetricsResponse = Type.Object({ messages_running: Type.Integer(), messages_waiting: Type.Integer(), total_jobs: Type.Integer() });

export const RetrieveQuery = Type.Object({
  model: Model,
  timeout: Type.Optional(Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m)?$', description: 'How long to wait for a job: "5s", "500ms", "1m" or seconds' })),
  hostname: Type.Optional(Type.String({ maxLength: 255 })),
  claim_timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'Seconds without a status update before the claim lapses; omitted: held until the worker reports' })),
});
export type RetrieveQueryParams = Static<typeof RetrieveQuery>;

export const RetrieveResponse = Type.Object({
  data: Type.Union([Type.Composite([JobStatusResponse, Type.Object({ payload: FreeObject('The job input') })]), Type.Null()]),
});

export const StatusReportRequest = Type.Object(
  {
    model: Model,
    request_id: RequestId,
    status: StringEnum(['running', 'done', 'failed'] as const),
    payload: Type.Optional(FreeObject('running: progress; done: the outputs')),
    info: Type.Optional(FreeObject('Merged into the job info; a failure sends {"error": …}')),
  },
  { additionalProperties: true },
);
export type StatusReportBody = Static<typeof StatusReportRequest>;
