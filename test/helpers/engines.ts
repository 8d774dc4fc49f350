import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * The two store engines every store and API test runs against. PostgreSQL is a real server
 * that `npm test` (scripts/run-tests.js) starts; each call gets a fresh database of its own.
 */
export interface Engine {
  name: 'sqlite' | 'postgres';
  /** Why this engine cannot run here, if it cannot. */
  skip: string | false;
  /** A database URL for a new, empty database, and how to drop it. */
  create(): Promise<{ url: string; drop(): Promise<void> }>;
}

const pgUrl = process.env.GANTRY_TEST_POSTGRES_URL;

export const sqlite: Engine = {
  name: 'sqlite',
  skip: false,
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-test-'));
    return { url: `sqlite:${join(dir, 'gantry.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

export const postgres: Engine = {
  name: 'postgres',
  skip: pgUrl
    ? false
    : `PostgreSQL tests need a server: run them with \`npm test\`, which starts one (${process.env.GANTRY_TEST_POSTGRES_SKIP ?? 'GANTRY_TEST_POSTGRES_URL is not set'})`,
  async create() {
    const name = `t_${Math.random().toString(36).slice(2, 12)}`;
    const admin = new pg.Client(pgUrl);
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(pgUrl!);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      drop: async () => {
        const c = new pg.Client(pgUrl);
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      },
    };
  },
};

export const engines: Engine[] = [sqlite, postgres];
