import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox } from '../components/ui.js';
import { useAction } from '../hooks.js';

/** Signs in with an API key: checked against the API, kept only if it is accepted. */
export function SignIn({ onSignedIn }: { onSignedIn: (key: string) => void }) {
  const [key, setKey] = useState('');
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (await action.run(() => api('GET', '/deployments', undefined, k))) onSignedIn(k);
  };
  return (
    <main class="signin">
      <form onSubmit={submit} class="card">
        <h1>Gantry console</h1>
        <p class="muted">
          Sign in with an API key of your project: the admin key <code>gantry serve</code> saved to <code>.gantry/admin.key</code>, or one made with{' '}
          <code>gantry keys create</code>. It stays in this browser tab only.
        </p>
        <label for="key">API key</label>
        <input id="key" type="password" autoComplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} required autoFocus />
        <button type="submit" disabled={action.busy || !key.trim()}>
          Sign in
        </button>
        <ErrorBox error={action.error} what="Not signed in" />
      </form>
    </main>
  );
}
