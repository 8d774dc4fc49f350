import { useState } from 'preact/hooks';
import { api, get, q } from '../api.js';
import { ago, dollars } from '../format.js';
import { useAction, usePoll } from '../hooks.js';
import { Badge, ConfirmButton, Empty, ErrorBox, Loading, Section, Table } from '../components/ui.js';
import type { Endpoint, Hardware, List, Model } from '../types.js';
import { Models } from './Models.js';

const RUNNING = new Set(['PENDING', 'STARTING', 'STARTED']);

/** Dedicated endpoints: state and hardware, start and stop, create; then models and their uploads. */
export function Endpoints() {
  const { data, error, reload } = usePoll(() => get<List<Endpoint>>('/endpoints'), []);
  const action = useAction();
  const path = (e: Endpoint) => `/endpoints/${encodeURIComponent(e.id)}`;
  const setState = (e: Endpoint, state: 'STARTED' | 'STOPPED') => action.run(() => api('PATCH', path(e), { state })).then(reload);
  return (
    <>
      <Section title="Dedicated endpoints">
        <ErrorBox error={action.error} what="Not done" />
        {!data ? (
          <Loading error={error} />
        ) : data.data.length === 0 ? (
          <Empty>No endpoints yet. Create one below from a model and a hardware configuration; requests to its name go to it.</Empty>
        ) : (
          <Table label="Endpoints" head={['Name', 'Model', 'Hardware', 'State', 'Created', '']}>
            {data.data.map((e) => (
              <tr key={e.id}>
                <td class="mono">{e.name}</td>
                <td>{e.model}</td>
                <td class="mono">{e.hardware}</td>
                <td title={e.state_reason}>
                  <Badge value={e.state} />
                  {e.state_reason && <div class="muted small">{e.state_reason}</div>}
                </td>
                <td>{ago(e.created_at)}</td>
                <td class="row">
                  {RUNNING.has(e.state) ? (
                    <button onClick={() => setState(e, 'STOPPED')} disabled={action.busy} aria-label={`Stop ${e.name}`}>
                      Stop
                    </button>
                  ) : (
                    <button onClick={() => setState(e, 'STARTED')} disabled={action.busy} aria-label={`Start ${e.name}`}>
                      Start
                    </button>
                  )}
                  <ConfirmButton
                    label="Delete"
                    confirm={`Delete ${e.name}?`}
                    busy={action.busy}
                    onConfirm={() => void action.run(() => api('DELETE', path(e))).then(reload)}
                  />
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Section>
      <CreateEndpoint created={reload} />
      <Models />
    </>
  );
}

function CreateEndpoint({ created }: { created: () => void }) {
  const [model, setModel] = useState('');
  const [hardware, setHardware] = useState('');
  const [max, setMax] = useState('1');
  const models = usePoll(() => get<Model[]>('/models'), [], 30_000);
  // Only configurations the model fits on, each with whether it is free now.
  const configs = usePoll(() => (model ? get<List<Hardware>>(`/hardware${q({ model })}`) : Promise.resolve({ data: [] })), [model], 5000);
  const action = useAction();
  return (
    <Section title="Create an endpoint">
      <form
        class="row"
        aria-label="Create an endpoint"
        onSubmit={(e) => {
          e.preventDefault();
          void action
            .run(() => api('POST', '/endpoints', { model, hardware, autoscaling: { min_replicas: 1, max_replicas: Number(max) } }))
            .then((ok) => ok && created());
        }}
      >
        <label>
          Model{' '}
          <select value={model} onChange={(e) => (setModel(e.currentTarget.value), setHardware(''))} required>
            <option value="">choose…</option>
            {models.data?.map((m) => (
              <option key={m.id} value={m.id}>
                {m.display_name ?? m.id}
              </option>
            ))}
          </select>
        </label>
        <label>
          Hardware{' '}
          <select value={hardware} onChange={(e) => setHardware(e.currentTarget.value)} required disabled={!model}>
            <option value="">{model ? 'choose…' : 'choose a model first'}</option>
            {configs.data?.data.map((h) => (
              <option key={h.id} value={h.id} disabled={h.availability?.status === 'unavailable'}>
                {h.id} · {dollars(h.pricing.cents_per_minute * 60)}/h · {h.availability?.status ?? ''}
              </option>
            ))}
          </select>
        </label>
        <label>
          Max replicas <input type="number" min={1} max={100} value={max} onInput={(e) => setMax(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={action.busy || !model || !hardware}>
          Create endpoint
        </button>
      </form>
      <ErrorBox error={models.error ?? configs.error ?? action.error} />
    </Section>
  );
}
