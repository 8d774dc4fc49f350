import { useState } from 'preact/hooks';
import { session } from './api.js';
import { useRoute } from './hooks.js';
import { SignIn } from './pages/SignIn.js';
import { Deployments } from './pages/Deployments.js';
import { DeploymentPage } from './pages/Deployment.js';
import { Endpoints } from './pages/Endpoints.js';
import { Usage } from './pages/Usage.js';
import { Secrets } from './pages/Secrets.js';
import { Volumes } from './pages/Volumes.js';

const PAGES = [
  ['deployments', 'Deployments'],
  ['endpoints', 'Endpoints & models'],
  ['usage', 'Usage & cost'],
  ['secrets', 'Secrets'],
  ['volumes', 'Volumes'],
] as const;

export function App() {
  const [key, setKey] = useState(session.key());
  const [page = 'deployments', id] = useRoute();
  if (!key) return <SignIn onSignedIn={(k) => (session.signIn(k), setKey(k))} />;
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/deployments">
          Gantry
        </a>
        <nav aria-label="Sections">
          {PAGES.map(([path, label]) => (
            <a key={path} href={`#/${path}`} aria-current={page === path ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button class="link" onClick={() => (session.signOut(), setKey(null))}>
          Sign out
        </button>
      </header>
      <main>{view(page, id)}</main>
    </div>
  );
}

function view(page: string, id: string | undefined) {
  switch (page) {
    case 'deployments':
      return id ? <DeploymentPage id={id} /> : <Deployments />;
    case 'endpoints':
      return <Endpoints />;
    case 'usage':
      return <Usage />;
    case 'secrets':
      return <Secrets />;
    case 'volumes':
      return <Volumes />;
    default:
      return (
        <p>
          No page here. Go to <a href="#/deployments">deployments</a>.
        </p>
      );
  }
}
