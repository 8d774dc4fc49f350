import pg from 'pg';
import { StoreConstraintError, type Database, type Executor, type Param } from './executor.js';
import { migrate } from './migrations.js';

/** PostgreSQL through a pg pool. Each transaction holds one pooled client from BEGIN to COMMIT. */
export async function openPostgres(url: string): Promise<Database> {
  // A prepared statement's plan (below) is kept for its connection's life, made from the
  // tables as they were then; closing a connection after so many uses bounds how long a plan
  // made on a small table outlives its growth (the reads that met this are written so that one
  // index alone can answer them: see owned-by.ts and the jobs indexes in migrations.ts).
  const pool = new pg.Pool({ connectionString: url, max: 16, maxUses: 20_000 });
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => {});
  const database = new PostgresDatabase(pool);
  await migrate(database);
  return database;
}

type Queryable = Pick<pg.Pool, 'query'>;

/**
 * Every statement runs as a named prepared statement, so PostgreSQL parses and plans it
 * once per connection instead of on every call. The SQL text is fixed per operation, so
 * the number of names stays small.
 */
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) statementNames.set(sql, (name = `g${statementNames.size}`));
  return name;
}

function executor(q: Queryable): Executor {
  const query = async (sql: string, params?: readonly Param[]) => {
    try {
      return await q.query({ name: statementName(sql), text: sql, values: params as Param[] | undefined });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === '23505') throw new StoreConstraintError('unique', err);
      if (code === '23503') throw new StoreConstraintError('foreign_key', err);
      throw err;
    }
  };
  return {
    all: async <T>(sql: string, params?: readonly Param[]) => (await query(sql, params)).rows as T[],
    get: async <T>(sql: string, params?: readonly Param[]) => (await query(sql, params)).rows[0] as T | undefined,
    run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
  };
}

class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  private readonly direct: Executor;

  constructor(private readonly pool: pg.Pool) {
    this.direct = executor(pool);
  }

  all<T>(sql: string, params?: readonly Param[]) {
    return this.direct.all<T>(sql, params);
  }
  get<T>(sql: string, params?: readonly Param[]) {
    return this.direct.get<T>(sql, params);
  }
  run(sql: string, params?: readonly Param[]) {
    return this.direct.run(sql, params);
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(executor(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  close() {
    return this.pool.end();
  }
}
