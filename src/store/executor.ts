/**
 * The SQL executor the store's named operations run on. SQL is written once, with
 * PostgreSQL-style `$1` placeholders; the SQLite adapter rewrites them. Both engines
 * report constraint violations as a StoreConstraintError so callers never see driver codes.
 */
export type Param = string | number | null;

export interface Executor {
  all<T>(sql: string, params?: readonly Param[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly Param[]): Promise<T | undefined>;
  /** Runs a statement and answers how many rows it changed. */
  run(sql: string, params?: readonly Param[]): Promise<number>;
}

export interface Database extends Executor {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs fn in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export class StoreConstraintError extends Error {
  constructor(
    readonly kind: 'unique' | 'foreign_key',
    cause: unknown,
  ) {
    super(`${kind} constraint violated`, { cause });
  }
}
