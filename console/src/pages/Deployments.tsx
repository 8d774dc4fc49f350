import { get } from '../api.js';
import { ago } from '../format.js';
import { usePoll } from '../hooks.js';
import { Badge, Empty, ErrorBox, Loading, Section, Table } from '../components/ui.js';
import type { Deployment, List } from '../types.js';

export function Deployments() {
  const { data, error } = usePoll(() => get<List<Deployment>>('/deployments'), []);
  if (!data) return <Loading error={error} />;
  return (
    <Section title="Deployments">
      <ErrorBox error={error} what="Could not refresh" />
      {data.data.length === 0 ? (
        <Empty>
          No deployments yet. Create one with <code>POST /v1/deployments</code>, the SDK's <code>client.beta.jig.deploy()</code> or <code>jig deploy</code>; it
          appears here at once.
        </Empty>
      ) : (
        <Table label="Deployments" head={['Name', 'Status', 'Ready / desired', 'GPU', 'Image', 'Last change']}>
          {data.data.map((d) => (
            <tr key={d.id}>
              <td>
                <a href={`#/deployments/${encodeURIComponent(d.name)}`}>{d.name}</a>
              </td>
              <td>
                <Badge value={d.status} />
              </td>
              <td class="num" data-testid="replicas">
                {d.ready_replicas} / {d.desired_replicas}
              </td>
              <td>{d.gpu_type === 'none' ? 'none' : `${d.gpu_count} × ${d.gpu_type}`}</td>
              <td class="mono">{d.image}</td>
              <td title={d.updated_at}>{ago(d.updated_at)}</td>
            </tr>
          ))}
        </Table>
      )}
    </Section>
  );
}
