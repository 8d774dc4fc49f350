import type { DeploymentSpec } from '../contract/records.js';
import type { Executor } from './executor.js';

export type RevisionAction = 'create' | 'update' | 'system' | 'rollback';

/** A revision of a deployment: its spec, and its number in the deployment's history. */
export interface RevisionRecord {
  revision_id: string;
  revision_number: number;
  spec: DeploymentSpec;
  created_at: string;
}

/** One time a revision became active. */
export interface RevisionEventRecord {
  event_number: number;
  revision_id: string;
  revision_number: number;
  action: RevisionAction;
  activated_at: string;
  image: string;
}

/** As Together: the 200 latest events of a deployment are kept, and the specs of its 50 latest revisions (and the active one's). */
const KEPT_EVENTS = 200;
const KEPT_REVISIONS = 50;

/** The SQL of deployments' revision history. Callers write it in the transaction that changes the deployment. */
export class RevisionStore {
  constructor(private readonly ex: Executor) {}

  /**
   * `revisionId` became the deployment's active revision by `action`: stored as a new revision
   * (with `spec`) unless the deployment has it already (a rollback, or a change that kept it),
   * and recorded as an event unless it was already the active one.
   */
  async activated(deploymentId: string, revisionId: string, spec: DeploymentSpec, action: RevisionAction, at: string): Promise<void> {
    const known = await this.ex.get<{ n: number }>('SELECT revision_number AS n FROM deployment_revisions WHERE deployment_id = $1 AND revision_id = $2', [
      deploymentId,
      revisionId,
    ]);
    if (!known) {
      await this.ex.run(
        `INSERT INTO deployment_revisions (deployment_id, revision_id, revision_number, spec, created_at)
         SELECT $1, $2, COALESCE(MAX(revision_number), 0) + 1, $3, $4 FROM deployment_revisions WHERE deployment_id = $1`,
        [deploymentId, revisionId, JSON.stringify(spec), at],
      );
    }
    const last = await this.ex.get<{ revision_id: string; event_number: number }>(
      'SELECT revision_id, event_number FROM deployment_revision_events WHERE deployment_id = $1 ORDER BY event_number DESC LIMIT 1',
      [deploymentId],
    );
    if (last?.revision_id === revisionId) return;
    const event = (last?.event_number ?? 0) + 1;
    await this.ex.run('INSERT INTO deployment_revision_events (deployment_id, event_number, revision_id, action, activated_at) VALUES ($1, $2, $3, $4, $5)', [
      deploymentId,
      event,
      revisionId,
      action,
      at,
    ]);
    await this.ex.run('DELETE FROM deployment_revision_events WHERE deployment_id = $1 AND event_number <= $2', [deploymentId, event - KEPT_EVENTS]);
    await this.ex.run(
      `DELETE FROM deployment_revisions WHERE deployment_id = $1 AND revision_id <> $2
         AND revision_number <= (SELECT MAX(revision_number) FROM deployment_revisions WHERE deployment_id = $1) - $3`,
      [deploymentId, revisionId, KEPT_REVISIONS],
    );
  }

  /** Events newest first, those numbered below `before` when given. */
  async events(deploymentId: string, limit: number, before?: number): Promise<RevisionEventRecord[]> {
    const rows = await this.ex.all<Omit<RevisionEventRecord, 'image'> & { spec: string | null; revision_number: number | null }>(
      `SELECT e.event_number, e.revision_id, e.action, e.activated_at, r.revision_number, r.spec
         FROM deployment_revision_events e
         LEFT JOIN deployment_revisions r ON r.deployment_id = e.deployment_id AND r.revision_id = e.revision_id
        WHERE e.deployment_id = $1 ${before === undefined ? '' : 'AND e.event_number < $3'}
        ORDER BY e.event_number DESC LIMIT $2`,
      before === undefined ? [deploymentId, limit] : [deploymentId, limit, before],
    );
    return rows.map(({ spec, revision_number, ...e }) => ({
      ...e,
      event_number: Number(e.event_number),
      // A revision whose spec aged out still shows in the history, without its number and image.
      revision_number: revision_number === null ? 0 : Number(revision_number),
      image: spec === null ? '' : (JSON.parse(spec) as DeploymentSpec).image,
    }));
  }

  /** A revision by its id or its number ("3"). */
  async find(deploymentId: string, identifier: string): Promise<RevisionRecord | undefined> {
    const byNumber = /^\d{1,9}$/.test(identifier);
    const row = await this.ex.get<Omit<RevisionRecord, 'spec'> & { spec: string }>(
      `SELECT revision_id, revision_number, spec, created_at FROM deployment_revisions
        WHERE deployment_id = $1 AND ${byNumber ? 'revision_number = $2' : 'revision_id = $2'}`,
      [deploymentId, byNumber ? Number(identifier) : identifier],
    );
    return row && { ...row, revision_number: Number(row.revision_number), spec: JSON.parse(row.spec) as DeploymentSpec };
  }
}
