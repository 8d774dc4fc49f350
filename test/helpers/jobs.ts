import type { JobRecord } from '../../src/contract/records.js';

/** A job as a submit stores it (pending, never claimed), for tests below the queue's API. */
export function pendingJob(id: string, o: { project_id: string; model: string; priority?: number; payload?: string }): JobRecord {
  return {
    id,
    project_id: o.project_id,
    model: o.model,
    status: 'pending',
    priority: o.priority ?? 0,
    payload: o.payload ?? '{}',
    info: '{}',
    outputs: null,
    retries: 0,
    claimed_by: null,
    claim_timeout_s: null,
    claim_expires_at: null,
    created_at: '2026-01-01T00:00:00.000Z',
    claimed_at: null,
    done_at: null,
  };
}
