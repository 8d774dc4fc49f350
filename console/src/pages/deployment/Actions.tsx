import { useState } from 'preact/hooks';
import { api, get } from '../../api.js';
import { useAction, usePoll } from '../../hooks.js';
import { ConfirmButton, ErrorBox, Section } from '../../components/ui.js';
import type { Deployment, EnvVar, List, Secret } from '../../types.js';

/** Scale, edit the environment, restart and delete. */
export function DeploymentActions({ d, changed }: { d: Deployment; changed: () => void }) {
  const action = useAction();
  const path = `/deployments/${encodeURIComponent(d.id)}`;
  const patch = (body: object) => action.run(() => api('PATCH', path, body)).then((ok) => ok && changed());
  return (
    <Section
      title="Actions"
      actions={
        <div class="row">
          <button onClick={() => action.run(() => api('POST', `${path}/restart`)).then((ok) => ok && changed())} disabled={action.busy}>
            Restart
          </button>
          <ConfirmButton
            label="Delete"
            confirm={`Delete ${d.name} and stop its replicas?`}
            busy={action.busy}
            onConfirm={() => void action.run(() => api('DELETE', path)).then((ok) => ok && (location.hash = '#/deployments'))}
          />
        </div>
      }
    >
      <ErrorBox error={action.error} what="Not done" />
      <div class="columns">
        <Scale d={d} busy={action.busy} save={(min, max) => patch({ min_replicas: min, max_replicas: max })} />
        <Environment d={d} busy={action.busy} save={(env) => patch({ environment_variables: env })} />
      </div>
    </Section>
  );
}

function Scale({ d, busy, save }: { d: Deployment; busy: boolean; save: (min: number, max: number) => void }) {
  const [min, setMin] = useState(String(d.min_replicas));
  const [max, setMax] = useState(String(d.max_replicas));
  return (
    <form
      class="stack"
      aria-label="Scale"
      onSubmit={(e) => {
        e.preventDefault();
        save(Number(min), Number(max));
      }}
    >
      <h3>Scale</h3>
      <label>
        Min replicas <input name="min_replicas" type="number" min={0} max={1000} value={min} onInput={(e) => setMin(e.currentTarget.value)} />
      </label>
      <label>
        Max replicas <input name="max_replicas" type="number" min={0} max={1000} value={max} onInput={(e) => setMax(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={busy}>
        Apply scale
      </button>
    </form>
  );
}

/** Listed with the environment but set by Gantry for each revision: not the user's to edit. */
const PLATFORM_SET = new Set(['TOGETHER_DEPLOYMENT_REVISION_ID']);

/** Variables by value, or by a secret's name: a secret's value is never fetched or shown. */
function Environment({ d, busy, save }: { d: Deployment; busy: boolean; save: (env: EnvVar[]) => void }) {
  const [rows, setRows] = useState<EnvVar[]>(() => (d.environment_variables ?? []).filter((v) => !PLATFORM_SET.has(v.name)));
  const secrets = usePoll(() => get<List<Secret>>('/secrets'), [], 10_000);
  const set = (i: number, v: EnvVar) => setRows(rows.map((r, j) => (j === i ? v : r)));
  return (
    <form
      class="stack"
      aria-label="Environment"
      onSubmit={(e) => {
        e.preventDefault();
        save(rows.filter((r) => r.name));
      }}
    >
      <h3>Environment</h3>
      {rows.map((r, i) => (
        <div class="row env" key={i}>
          <input aria-label="Name" placeholder="NAME" value={r.name} onInput={(e) => set(i, { ...r, name: e.currentTarget.value })} />
          <select
            aria-label={`Source of ${r.name || 'variable'}`}
            value={r.value_from_secret !== undefined ? 'secret' : 'value'}
            onChange={(e) => set(i, e.currentTarget.value === 'secret' ? { name: r.name, value_from_secret: '' } : { name: r.name, value: '' })}
          >
            <option value="value">value</option>
            <option value="secret">secret</option>
          </select>
          {r.value_from_secret !== undefined ? (
            <select
              aria-label={`Secret for ${r.name}`}
              value={r.value_from_secret}
              onChange={(e) => set(i, { name: r.name, value_from_secret: e.currentTarget.value })}
            >
              <option value="">choose a secret…</option>
              {secrets.data?.data.map((s) => (
                <option key={s.id} value={s.name}>
                  {s.name}
                </option>
              ))}
            </select>
          ) : (
            <input aria-label={`Value of ${r.name}`} value={r.value ?? ''} onInput={(e) => set(i, { name: r.name, value: e.currentTarget.value })} />
          )}
          <button type="button" aria-label={`Remove ${r.name}`} onClick={() => setRows(rows.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <div class="row">
        <button type="button" onClick={() => setRows([...rows, { name: '', value: '' }])}>
          Add variable
        </button>
        <button type="submit" disabled={busy}>
          Save environment (rolls out)
        </button>
      </div>
    </form>
  );
}
