import { useState } from 'preact/hooks';
import { get, q } from '../api.js';
import { dollars } from '../format.js';
import { usePoll } from '../hooks.js';
import { Chart, color } from '../components/Chart.js';
import { Empty, Loading, Section, Table } from '../components/ui.js';
import type { Usage as UsageReport } from '../types.js';

const RANGES = [
  { label: 'Last 24 hours', hours: 24, bucket: 'hour' },
  { label: 'Last 7 days', hours: 24 * 7, bucket: 'day' },
  { label: 'Last 30 days', hours: 24 * 30, bucket: 'day' },
] as const;

/** Cost over time per endpoint and deployment, and replica-minutes by hardware. */
export function Usage() {
  const [range, setRange] = useState(0);
  const r = RANGES[range]!;
  const { data, error } = usePoll(
    () => get<UsageReport>(`/usage${q({ start_time: new Date(Date.now() - r.hours * 3600_000).toISOString(), bucket: r.bucket })}`),
    [range],
    10_000,
  );
  if (!data) return <Loading error={error} />;
  const items = [...data.endpoints.map((i) => ({ ...i, kind: 'endpoint' })), ...data.deployments.map((i) => ({ ...i, kind: 'deployment' }))];
  const series = data.series ?? [];
  const times = series.map((b) => Date.parse(b.start_time) / 1000);
  return (
    <>
      <Section
        title="Cost"
        actions={
          <label>
            Range{' '}
            <select value={range} onChange={(e) => setRange(Number(e.currentTarget.value))}>
              {RANGES.map((x, i) => (
                <option key={x.label} value={i}>
                  {x.label}
                </option>
              ))}
            </select>
          </label>
        }
      >
        <p>
          <strong data-testid="total-cost">{dollars(data.cost_cents)}</strong> for <strong>{data.replica_minutes}</strong> replica-minutes since{' '}
          {new Date(data.start_time).toLocaleString()}
        </p>
        {series.length === 0 ? (
          <Empty>Nothing metered in this range: replicas are metered per started minute while they run.</Empty>
        ) : (
          <Chart
            range={[Date.parse(data.start_time) / 1000, Date.parse(data.end_time) / 1000] as [number, number]}
            title={`Cost per ${r.bucket} (US cents)`}
            times={times}
            lines={items.map((item, i) => ({
              label: `${item.name}${item.deleted ? ' (deleted)' : ''}`,
              color: color(i),
              bars: true,
              values: series.map((b) => b.items.find((x) => x.id === item.id)?.cost_cents ?? 0),
            }))}
          />
        )}
      </Section>
      <Section title="Replica-minutes by hardware">
        {items.length === 0 ? (
          <Empty>No usage in this range.</Empty>
        ) : (
          <Table label="Usage by hardware" head={['Name', 'Kind', 'Hardware', 'Replica-minutes', 'Cost']}>
            {items.flatMap((item) =>
              item.hardware.map((h) => (
                <tr key={`${item.id}/${h.hardware}`}>
                  <td>
                    {item.name}
                    {item.deleted ? ' (deleted)' : ''}
                  </td>
                  <td>{item.kind}</td>
                  <td class="mono">{h.hardware}</td>
                  <td class="num">{h.replica_minutes}</td>
                  <td class="num">{dollars(h.cost_cents)}</td>
                </tr>
              )),
            )}
          </Table>
        )}
      </Section>
    </>
  );
}
