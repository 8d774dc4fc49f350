import { get } from '../api.js';
import { ago } from '../format.js';
import { usePoll } from '../hooks.js';
import { Badge, ErrorBox, Loading, Section, Table } from '../components/ui.js';
import type { Deployment } from '../types.js';
import { DeploymentActions } from './deployment/Actions.js';
import { DeploymentCharts } from './deployment/Charts.js';
import { Logs } from './deployment/Logs.js';
import { QueuePanel } from './deployment/Queue.js';

/** One deployment: status and replicas live, charts of the last hour, logs, queue, spec and actions. */
export function DeploymentPage({ id }: { id: string }) {
  const { data: d, error, reload } = usePoll(() => get<Deployment>(`/deployments/${encodeURIComponent(id)}`), [id]);
  if (!d) return <Loading error={error} />;
  const replicas = Object.entries(d.replica_events ?? {});
  return (
    <>
      <header class="page-head">
        <div>
          <a href="#/deployments" class="muted">
            Deployments
          </a>{' '}
          / <h1>{d.name}</h1> <Badge value={d.status} />
        </div>
        <p class="muted">
          <span data-testid="replica-count">
            {d.ready_replicas} / {d.desired_replicas} ready
          </span>{' '}
          · replicas {d.min_replicas}–{d.max_replicas} · {d.gpu_type === 'none' ? 'no GPU' : `${d.gpu_count} × ${d.gpu_type}`} · changed {ago(d.updated_at)}
        </p>
      </header>
      <ErrorBox error={error} what="Could not refresh" />
      <DeploymentActions d={d} changed={reload} />
      <Section title="Replicas">
        {replicas.length === 0 ? (
          <p class="muted">No replicas: the deployment is at zero (a request or a queued job wakes an autoscaled one) or still being placed.</p>
        ) : (
          <Table label="Replica events" head={['Replica', 'Revision', 'State', 'Reason and message', 'Ready since']}>
            {replicas.map(([rid, r]) => (
              <tr key={rid}>
                <td class="mono">{rid}</td>
                <td class="mono">{r.revision_id?.slice(0, 13) ?? '–'}</td>
                <td>
                  <Badge value={r.replica_status} />
                </td>
                <td>
                  {[r.replica_status_reason, r.replica_status_message].filter(Boolean).join(': ') || '–'}
                  {r.volume_preload_status ? ` (volumes: ${r.volume_preload_status})` : ''}
                </td>
                <td title={r.replica_ready_since}>{ago(r.replica_ready_since)}</td>
              </tr>
            ))}
          </Table>
        )}
      </Section>
      <DeploymentCharts id={d.id} />
      <Logs id={d.id} replicas={replicas.map(([rid]) => rid)} />
      <QueuePanel name={d.name} id={d.id} />
      <Section title="Spec">
        <pre class="spec" tabIndex={0} aria-label="Spec as JSON">
          {JSON.stringify(specOf(d), null, 2)}
        </pre>
      </Section>
    </>
  );
}

/** What the user asked for, without the live status fields shown above. */
function specOf(d: Deployment) {
  const { replica_events: _e, status: _s, ready_replicas: _r, desired_replicas: _d, ...spec } = d;
  return spec;
}
