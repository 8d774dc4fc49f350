import { useEffect, useState } from 'preact/hooks';
import { follow, q } from '../../api.js';
import { ErrorBox, Section } from '../../components/ui.js';

/** The most lines kept on the page; older ones scroll away. */
const MAX_LINES = 2000;

/** Replica output, followed live (an NDJSON stream), of all replicas or one, filtered by a search. */
export function Logs({ id, replicas }: { id: string; replicas: string[] }) {
  const [replica, setReplica] = useState('');
  const [search, setSearch] = useState('');
  const [live, setLive] = useState(true);
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<Error>();

  useEffect(() => {
    if (!live) return;
    const abort = new AbortController();
    setLines([]);
    setError(undefined);
    const path = `/deployments/${encodeURIComponent(id)}/logs${q({ follow: 'true', replica_id: replica || undefined })}`;
    follow(path, abort.signal, (item) => setLines((old) => [...old, ...(item as { lines: string[] }).lines].slice(-MAX_LINES))).catch((err: Error) => {
      if (!abort.signal.aborted) setError(err);
    });
    return () => abort.abort();
  }, [id, replica, live]);

  const needle = search.toLowerCase();
  const shown = needle ? lines.filter((l) => l.toLowerCase().includes(needle)) : lines;
  return (
    <Section
      title="Logs"
      actions={
        <div class="row">
          <label>
            Replica{' '}
            <select value={replica} onChange={(e) => setReplica(e.currentTarget.value)}>
              <option value="">all</option>
              {replicas.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <input type="search" aria-label="Search logs" placeholder="Search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
          <label>
            <input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> Follow
          </label>
        </div>
      }
    >
      <ErrorBox error={error} what="Logs not available" />
      <pre class="logs" aria-live="polite" aria-label="Log lines" tabIndex={0}>
        {shown.length ? shown.join('\n') : needle ? `No line contains "${search}".` : 'No output yet.'}
      </pre>
    </Section>
  );
}
