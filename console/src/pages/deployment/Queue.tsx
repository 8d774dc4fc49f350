import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { get, q } from '../../api.js';
import { ago, time } from '../../format.js';
import { usePoll } from '../../hooks.js';
import { Chart, color } from '../../components/Chart.js';
import { Badge, ErrorBox, Section, Table } from '../../components/ui.js';
import type { Job, List } from '../../types.js';
import { HISTORY_REFRESH_MS, loadHistory } from './metrics.js';

const STATUSES = ['', 'pending', 'running', 'done', 'failed', 'canceled'];

/** The deployment's job queue: depth now and over time, throughput, job latency, and the latest jobs. */
export function QueuePanel({ name, id }: { name: string; id: string }) {
  const [status, setStatus] = useState('');
  const [open, setOpen] = useState<string>();
  const depth = usePoll(() => get<{ messages_waiting: number; messages_running: number }>(`/queue/metrics${q({ model: name })}`), [name]);
  const jobs = usePoll(() => get<List<Job>>(`/queue/jobs${q({ model: name, status, limit: 20 })}`), [name, status]);
  const history = usePoll(() => loadHistory(id), [id], HISTORY_REFRESH_MS);
  const points = history.data?.points ?? [];
  const times = history.data?.times ?? [];
  const range = history.data?.range ?? [0, 1];
  const per = history.data?.intervalSeconds ?? 10;
  const hasQueue = points.some((p) => p.queue_pending + p.queue_running + p.jobs_done > 0) || (jobs.data?.data.length ?? 0) > 0;
  return (
    <Section title="Queue">
      <ErrorBox error={depth.error ?? jobs.error} what="Queue not loaded" />
      <p data-testid="queue-depth">
        <strong>{depth.data?.messages_waiting ?? '–'}</strong> pending · <strong>{depth.data?.messages_running ?? '–'}</strong> running
      </p>
      {!hasQueue ? (
        <p class="muted">
          No jobs yet. Submit one with <code>POST /v1/queue/submit</code> and <code>"model": "{name}"</code>; a worker in a replica claims it from{' '}
          <code>/internal/v1/queue/retrieve</code>.
        </p>
      ) : (
        <>
          {points.length > 0 && (
            <div class="charts">
              <Chart
                range={range}
                title="Depth by status"
                times={times}
                lines={[
                  { label: 'pending', color: color(4), values: points.map((p) => p.queue_pending) },
                  { label: 'running', color: color(0), values: points.map((p) => p.queue_running) },
                ]}
              />
              <Chart
                range={range}
                title="Jobs finished per second"
                times={times}
                lines={[{ label: 'jobs/s', color: color(2), values: points.map((p) => p.jobs_done / per), bars: true }]}
              />
              <Chart
                range={range}
                title="Job latency (submit to end)"
                unit=" ms"
                times={times}
                lines={[{ label: 'mean', color: color(1), values: points.map((p) => p.job_latency_ms) }]}
              />
            </div>
          )}
          <div class="row">
            <h3>Latest jobs</h3>
            <label>
              Status{' '}
              <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {s || 'any'}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <Table label="Jobs" head={['Request', 'Status', 'Priority', 'Submitted', 'Retries']}>
            {jobs.data?.data.map((j) => (
              <Fragment key={j.request_id}>
                <tr>
                  <td>
                    <button class="link mono" aria-expanded={open === j.request_id} onClick={() => setOpen(open === j.request_id ? undefined : j.request_id)}>
                      {j.request_id}
                    </button>
                  </td>
                  <td>
                    <Badge value={j.status} />
                  </td>
                  <td class="num">{j.priority}</td>
                  <td title={j.created_at}>{ago(j.created_at)}</td>
                  <td class="num">{j.retries}</td>
                </tr>
                {open === j.request_id && (
                  <tr>
                    <td colSpan={5}>
                      <JobDetail job={j} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </Table>
        </>
      )}
    </Section>
  );
}

function JobDetail({ job }: { job: Job }) {
  const steps = [
    ['submitted', job.created_at],
    ['claimed by a worker', job.claimed_at],
    [job.status, job.done_at],
  ].filter(([, at]) => at) as [string, string][];
  return (
    <div class="job" aria-label={`Job ${job.request_id}`}>
      <ol class="timeline">
        {steps.map(([what, at]) => (
          <li key={what}>
            {time(at)}: {what}
          </li>
        ))}
      </ol>
      <h4>Info</h4>
      <pre tabIndex={0}>{JSON.stringify(job.info, null, 2)}</pre>
      {job.outputs && (
        <>
          <h4>Outputs</h4>
          <Outputs value={job.outputs} />
        </>
      )}
    </div>
  );
}

/** A job's outputs, with every URL (a signed storage URL, say) as a download link. */
function Outputs({ value }: { value: Record<string, unknown> }) {
  const urls = [...JSON.stringify(value).matchAll(/"(https?:\/\/[^"\s]+)"/g)].map((m) => m[1]!);
  return (
    <>
      {urls.length > 0 && (
        <ul>
          {urls.map((u) => (
            <li key={u}>
              <a href={u} download rel="noreferrer">
                {decodeURIComponent(new URL(u).pathname.split('/').pop() ?? u)}
              </a>
            </li>
          ))}
        </ul>
      )}
      <pre tabIndex={0}>{JSON.stringify(value, null, 2)}</pre>
    </>
  );
}
