import { useState } from 'preact/hooks';
import { usePoll } from '../../hooks.js';
import { Chart, color } from '../../components/Chart.js';
import { Empty, ErrorBox, Section } from '../../components/ui.js';
import { HISTORY_REFRESH_MS, loadHistory } from './metrics.js';

const RANGES = [15, 60, 360, 1440];

/** Requests/s, latency, in-flight requests and replicas over the chosen range, with the autoscaler's decisions marked. */
export function DeploymentCharts({ id }: { id: string }) {
  const [minutes, setMinutes] = useState(60);
  const { data, error } = usePoll(() => loadHistory(id, minutes), [id, minutes], HISTORY_REFRESH_MS);
  const points = data?.points ?? [];
  const times = data?.times ?? [];
  const range = data?.range ?? [0, 1];
  const marks = points.flatMap((p, i) => (p.decision ? [{ at: times[i]!, label: p.decision }] : []));
  const per = data?.intervalSeconds ?? 10;
  return (
    <Section
      title="Traffic and replicas"
      actions={
        <label>
          Range{' '}
          <select value={minutes} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
            {RANGES.map((m) => (
              <option key={m} value={m}>
                {m < 60 ? `${m} min` : `${m / 60} h`}
              </option>
            ))}
          </select>
        </label>
      }
    >
      <ErrorBox error={error} what="Metrics not loaded" />
      {points.length === 0 ? (
        <Empty>
          No activity recorded in this range yet. Points are kept every {per} s while the deployment has replicas, requests or jobs; send it a request through{' '}
          <code>/v1/deployment-request/&lt;name&gt;/</code> and the charts fill within {per} s.
        </Empty>
      ) : (
        <div class="charts">
          <Chart
            range={range}
            title="Requests per second"
            times={times}
            lines={[{ label: 'req/s', color: color(0), values: points.map((p) => p.requests / per), bars: true }]}
            marks={marks}
          />
          <Chart
            range={range}
            title="Latency"
            unit=" ms"
            times={times}
            lines={[
              { label: 'p50', color: color(2), values: points.map((p) => p.p50_ms) },
              { label: 'p99', color: color(1), values: points.map((p) => p.p99_ms) },
            ]}
            marks={marks}
          />
          <Chart
            range={range}
            title="In-flight requests (peak)"
            times={times}
            lines={[{ label: 'in flight', color: color(3), values: points.map((p) => p.in_flight) }]}
            marks={marks}
          />
          <Chart
            range={range}
            title="Replicas"
            times={times}
            lines={[
              { label: 'ready', color: color(2), values: points.map((p) => p.ready_replicas) },
              { label: 'desired', color: color(4), values: points.map((p) => p.desired_replicas) },
            ]}
            marks={marks}
          />
        </div>
      )}
    </Section>
  );
}
