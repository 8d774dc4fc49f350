import { useState } from 'preact/hooks';
import { get } from '../api.js';
import { ago, bytes } from '../format.js';
import { usePoll } from '../hooks.js';
import { Empty, Loading, Section, Table } from '../components/ui.js';
import type { List, Volume } from '../types.js';

/** Volumes, their versions (what each was made from, who mounts it) and the current version's files. */
export function Volumes() {
  const { data, error } = usePoll(() => get<List<Volume>>('/deployments/storage/volumes'), [], 5000);
  const [open, setOpen] = useState<string>();
  if (!data) return <Loading error={error} />;
  return (
    <Section title="Volumes">
      {data.data.length === 0 ? (
        <Empty>
          No volumes yet. Upload files with <code>POST /v1/storage/upload-request</code>, then create a volume from their prefix with{' '}
          <code>POST /v1/deployments/storage/volumes</code>.
        </Empty>
      ) : (
        data.data.map((v) => (
          <article key={v.id} class="volume">
            <h3>
              <button class="link" aria-expanded={open === v.id} onClick={() => setOpen(open === v.id ? undefined : v.id)}>
                {v.name}
              </button>{' '}
              <span class="muted">
                version {v.current_version} · {v.content.files.length} files · mounted by {v.mounted_by.join(', ') || 'no deployment'} · updated{' '}
                {ago(v.updated_at)}
              </span>
            </h3>
            {open === v.id && (
              <>
                <Table label={`Versions of ${v.name}`} head={['Version', 'Source prefix', 'Mounted by']}>
                  {Object.values(v.version_history).map((h) => (
                    <tr key={h.version}>
                      <td class="num">{h.version}</td>
                      <td class="mono">{h.content.source_prefix}</td>
                      <td>{h.mounted_by.join(', ') || '–'}</td>
                    </tr>
                  ))}
                </Table>
                <Table label={`Files of ${v.name}`} head={['File', 'Size', 'Modified']}>
                  {v.content.files.map((f) => (
                    <tr key={f.name}>
                      <td class="mono">{f.name}</td>
                      <td class="num">{bytes(f.size)}</td>
                      <td>{ago(f.last_modified)}</td>
                    </tr>
                  ))}
                </Table>
              </>
            )}
          </article>
        ))
      )}
    </Section>
  );
}
