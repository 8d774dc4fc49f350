import { useState } from 'preact/hooks';
import { api, get } from '../api.js';
import { ago } from '../format.js';
import { useAction, usePoll } from '../hooks.js';
import { ConfirmButton, Empty, ErrorBox, Loading, Section, Table } from '../components/ui.js';
import type { List, Secret } from '../types.js';

/** Secrets by name: create, rotate (a new value, never displayed) and delete. */
export function Secrets() {
  const { data, error, reload } = usePoll(() => get<List<Secret>>('/secrets'), []);
  const action = useAction();
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [rotating, setRotating] = useState<string>();
  const [newValue, setNewValue] = useState('');
  const path = (s: Secret) => `/secrets/${encodeURIComponent(s.id)}`;
  return (
    <Section title="Secrets">
      <p class="muted">Values are write-only: the API never returns them. Deployments use a secret by name (value_from_secret).</p>
      <form
        class="row"
        aria-label="Create a secret"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(() => api('POST', '/secrets', { name, value })).then((ok) => ok && (setName(''), setValue(''), reload()));
        }}
      >
        <label>
          Name <input value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <label>
          Value <input type="password" autoComplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} required />
        </label>
        <button type="submit" disabled={action.busy}>
          Create secret
        </button>
      </form>
      <ErrorBox error={action.error} what="Not done" />
      {!data ? (
        <Loading error={error} />
      ) : data.data.length === 0 ? (
        <Empty>No secrets yet. Create one above, then reference it from a deployment's environment.</Empty>
      ) : (
        <Table label="Secrets" head={['Name', 'Description', 'Updated', '']}>
          {data.data.map((s) => (
            <tr key={s.id}>
              <td class="mono">{s.name}</td>
              <td>{s.description || '–'}</td>
              <td>{ago(s.updated_at)}</td>
              <td class="row">
                {rotating === s.id ? (
                  <form
                    class="row"
                    aria-label={`New value for ${s.name}`}
                    onSubmit={(e) => {
                      e.preventDefault();
                      void action.run(() => api('PATCH', path(s), { value: newValue })).then((ok) => ok && (setRotating(undefined), setNewValue(''), reload()));
                    }}
                  >
                    <input
                      type="password"
                      autoComplete="off"
                      aria-label="New value"
                      value={newValue}
                      onInput={(e) => setNewValue(e.currentTarget.value)}
                      required
                    />
                    <button type="submit">Save</button>
                    <button type="button" onClick={() => setRotating(undefined)}>
                      Cancel
                    </button>
                  </form>
                ) : (
                  <button onClick={() => setRotating(s.id)}>Rotate value</button>
                )}
                <ConfirmButton
                  label="Delete"
                  confirm={`Delete ${s.name}?`}
                  busy={action.busy}
                  onConfirm={() => void action.run(() => api('DELETE', path(s))).then(reload)}
                />
              </td>
            </tr>
          ))}
        </Table>
      )}
    </Section>
  );
}
