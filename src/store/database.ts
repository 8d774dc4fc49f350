import type { Database } from './executor.js';

/** Opens the database a URL names: `sqlite:PATH` or `postgres://…`; each engine's module loads only when used. */
export async function openDatabase(url: string): Promise<Database> {
  if (url.startsWith('sqlite:')) {
    const { openSqlite } = await import('./sqlite.js');
    return openSqlite(url.slice('sqlite:'.length));
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { openPostgres } = await import('./postgres.js');
    return openPostgres(url);
  }
  throw new Error(`unsupported database URL '${url}': use sqlite:PATH or postgres://…`);
}
