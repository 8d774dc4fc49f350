import BetterSqlite3 from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreConstraintError, type Database, type Executor, type Param } from './executor.js';
import { migrate } from './migrations.js';

/**
 * SQLite through better-sqlite3: one connection in WAL mode, one writer at a time.
 * Statements are prepared once and cached. Transactions are serialised by an in-process
 * lock because the connection is shared by every request; a plain read arriving while a
 * transaction is open waits for it, so no one ever reads another request's uncommitted rows.
 */
export async function openSqlite(path: string): Promise<Database> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  // The database and its WAL files hold hashed keys and sealed secrets: Gantry's user only.
  if (path !== ':memory:') for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const database = new SqliteDatabase(db);
  await migrate(database);
  return database;
}

const PLACEHOLDER = /\$(\d+)/g;

class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private lock: Promise<void> | null = null;
  private readonly direct: Executor;

  constructor(private readonly db: BetterSqlite3.Database) {
    this.direct = {
      all: async <T>(sql: string, params?: readonly Param[]) => this.prepare(sql).all(bind(params)) as T[],
      get: async <T>(sql: string, params?: readonly Param[]) => this.prepare(sql).get(bind(params)) as T | undefined,
      run: async (sql, params) => wrap(() => this.prepare(sql).run(bind(params)).changes),
    };
  }

  async all<T>(sql: string, params?: readonly Param[]) {
    while (this.lock) await this.lock;
    return this.direct.all<T>(sql, params);
  }
  async get<T>(sql: string, params?: readonly Param[]) {
    while (this.lock) await this.lock;
    return this.direct.get<T>(sql, params);
  }
  /** One statement commits on its own (SQLite's autocommit); it only waits for an open transaction. */
  async run(sql: string, params?: readonly Param[]) {
    while (this.lock) await this.lock;
    return this.direct.run(sql, params);
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    while (this.lock) await this.lock;
    let release!: () => void;
    this.lock = new Promise((r) => (release = r));
    try {
      this.prepare('BEGIN IMMEDIATE').run();
      try {
        const result = await fn(this.direct);
        this.prepare('COMMIT').run();
        return result;
      } catch (err) {
        this.prepare('ROLLBACK').run();
        throw err;
      }
    } finally {
      this.lock = null;
      release();
    }
  }

  async close() {
    while (this.lock) await this.lock;
    this.db.close();
  }

  private prepare(sql: string) {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql.replace(PLACEHOLDER, '$$p$1'));
      this.statements.set(sql, stmt);
    }
    return stmt;
  }
}

function bind(params: readonly Param[] | undefined): Record<string, Param> {
  const out: Record<string, Param> = {};
  params?.forEach((p, i) => (out[`p${i + 1}`] = p));
  return out;
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new StoreConstraintError('unique', err);
    if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StoreConstraintError('foreign_key', err);
    throw err;
  }
}
