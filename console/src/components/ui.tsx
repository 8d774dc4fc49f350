import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

/** A status word with a colour class the stylesheet maps (Ready green, Failed red, …). */
export function Badge({ value }: { value: string | undefined }) {
  const v = value ?? 'Unknown';
  const tone = /ready|started|running|done|complete|available/i.test(v)
    ? 'ok'
    : /fail|error|crash|unavailable|oom|backoff/i.test(v)
      ? 'bad'
      : /stopped|canceled|inactive/i.test(v)
        ? 'off'
        : 'wait';
  return <span class={`badge ${tone}`}>{v}</span>;
}

export function ErrorBox({ error, what }: { error: Error | undefined; what?: string }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      {what ? `${what}: ` : ''}
      {error.message}
    </div>
  );
}

/** What an empty page says, and what to do about it. */
export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Loading({ error }: { error?: Error | undefined }) {
  return error ? <ErrorBox error={error} /> : <p class="muted">Loading…</p>;
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card">
      <header class="card-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** A button that asks once more before a destructive action. */
export function ConfirmButton({ label, confirm, onConfirm, busy }: { label: string; confirm: string; onConfirm: () => void; busy?: boolean }) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button class="danger" onClick={() => setAsking(true)} disabled={busy}>
        {label}
      </button>
    );
  return (
    <span class="confirm" role="group" aria-label={confirm}>
      <span>{confirm}</span>
      <button
        class="danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes, {label.toLowerCase()}
      </button>
      <button onClick={() => setAsking(false)}>Cancel</button>
    </span>
  );
}

/** A table that scrolls sideways on a narrow screen instead of squeezing. */
export function Table({ head, children, label }: { head: string[]; children: ComponentChildren; label: string }) {
  return (
    // Focusable, so a keyboard user can scroll a wide table sideways.
    <div class="table-wrap" tabIndex={0} role="region" aria-label={`${label} (scrolls)`}>
      <table aria-label={label}>
        <thead>
          <tr>
            {head.map((h) => (
              <th key={h} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
