import { useState } from 'preact/hooks';
import { api, get } from '../api.js';
import { ago } from '../format.js';
import { useAction, usePoll } from '../hooks.js';
import { Badge, Empty, ErrorBox, Section, Table } from '../components/ui.js';
import type { List, Model, UploadJob } from '../types.js';

/** Models endpoints can serve, and model uploads with their progress. */
export function Models() {
  const models = usePoll(() => get<Model[]>('/models'), [], 10_000);
  const jobs = usePoll(() => get<List<UploadJob>>('/jobs'), []);
  const [name, setName] = useState('');
  const [source, setSource] = useState('');
  const action = useAction();
  return (
    <>
      <Section title="Model uploads">
        <form
          class="row"
          aria-label="Upload a model"
          onSubmit={(e) => {
            e.preventDefault();
            void action.run(() => api('POST', '/models', { model_name: name, model_source: source })).then((ok) => ok && jobs.reload());
          }}
        >
          <label>
            Name <input value={name} onInput={(e) => setName(e.currentTarget.value)} required placeholder="my-model" />
          </label>
          <label>
            Source{' '}
            <input
              value={source}
              onInput={(e) => setSource(e.currentTarget.value)}
              required
              placeholder="org/repo on the Hub, a URL or an allowed folder"
              size={40}
            />
          </label>
          <button type="submit" disabled={action.busy}>
            Upload
          </button>
        </form>
        <ErrorBox error={action.error ?? jobs.error} />
        {jobs.data && jobs.data.data.length === 0 ? (
          <Empty>No uploads yet.</Empty>
        ) : (
          <Table label="Upload jobs" head={['Model', 'Source', 'Status', 'Progress', 'Updated']}>
            {jobs.data?.data.map((j) => (
              <tr key={j.job_id}>
                <td>{j.args.modelName}</td>
                <td class="mono">{j.args.modelSource}</td>
                <td>
                  <Badge value={j.status} />
                </td>
                <td>{j.status_updates.at(-1)?.message ?? '–'}</td>
                <td>{ago(j.updated_at)}</td>
              </tr>
            ))}
          </Table>
        )}
      </Section>
      <Section title="Models">
        <ErrorBox error={models.error} />
        <Table label="Models" head={['Model', 'Type', 'Owner']}>
          {models.data?.map((m) => (
            <tr key={m.id}>
              <td class="mono">{m.id}</td>
              <td>{m.type}</td>
              <td>{m.organization ?? '–'}</td>
            </tr>
          ))}
        </Table>
      </Section>
    </>
  );
}
