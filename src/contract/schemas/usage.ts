import { Type, type Static } from '@sinclair/typebox';

const TIME = 'ISO 8601: a date (2026-11-01, midnight UTC) or a date-time with Z or an offset';

export const UsageQuery = Type.Object({
  start_time: Type.Optional(Type.String({ maxLength: 40, description: `Start of the range, inclusive (${TIME}); default: the first of this month, UTC` })),
  end_time: Type.Optional(Type.String({ maxLength: 40, description: `End of the range, exclusive (${TIME}); default: now` })),
  bucket: Type.Optional(
    Type.Union([Type.Literal('hour'), Type.Literal('day')], { description: "Also answer `series`: the range's usage per hour or day (UTC), per endpoint and deployment" }),
  ),
});
export type UsageQueryParams = Static<typeof UsageQuery>;

const Metered = {
  replica_minutes: Type.Integer({ description: 'Minutes replicas ran, each replica counted per started minute' }),
  cost_cents: Type.Number({ description: 'Cost in US cents at the hardware price when metered' }),
};

const HardwareUsage = Type.Object({ hardware: Type.String({ description: 'Hardware id, or "cpu" for replicas without GPUs (not charged)' }), ...Metered });

const Item = {
  ...Metered,
  /** Most deployments run on one configuration; one that changed GPUs in the range lists each. */
  hardware: Type.Array(HardwareUsage),
};

export const EndpointUsage = Type.Object({
  object: Type.Literal('usage.endpoint'),
  id: Type.String(),
  name: Type.String({ description: 'The endpoint name inference requests use' }),
  deleted: Type.Boolean(),
  ...Item,
});

export const DeploymentUsage = Type.Object({
  object: Type.Literal('usage.deployment'),
  id: Type.String(),
  name: Type.String(),
  deleted: Type.Boolean(),
  ...Item,
});

/** `GET /v1/usage`: what the caller's project used in a time range, per endpoint and per deployment. */
export const UsageReport = Type.Object({
  object: Type.Literal('usage'),
  project: Type.String(),
  start_time: Type.String(),
  end_time: Type.String(),
  currency: Type.Literal('USD'),
  ...Metered,
  endpoints: Type.Array(EndpointUsage),
  deployments: Type.Array(DeploymentUsage, { description: 'Container deployments (an endpoint’s engine is counted under the endpoint)' }),
  series: Type.Optional(
    Type.Array(
      Type.Object({
        start_time: Type.String({ description: 'Start of the hour or day (UTC)' }),
        ...Metered,
        items: Type.Array(Type.Object({ id: Type.String({ description: 'An id of `endpoints` or `deployments` above' }), ...Metered })),
      }),
      { description: 'With `bucket`: buckets with usage, oldest first' },
    ),
  ),
});
export type UsageReportView = Static<typeof UsageReport>;
