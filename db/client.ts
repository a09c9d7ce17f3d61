/** One Postgres pool per process, optionally bound to a schema (tests get one each). */
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export type Database = PostgresJsDatabase<typeof schema>;

export interface DbHandle {
  readonly db: Database;
  readonly sql: postgres.Sql;
  readonly schemaName: string | undefined;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Postgres schema to use instead of public (created by migrate). */
  readonly schemaName?: string;
  readonly maxConnections?: number;
  /** Session settings every connection of the pool starts with (`SET name = value`). */
  readonly sessionSettings?: Readonly<Record<string, string>>;
}

export function connectDatabase(url: string, options: ConnectOptions = {}): DbHandle {
  const sql = postgres(url, {
    max: options.maxConnections ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    connection: { ...options.sessionSettings, ...(options.schemaName ? { search_path: options.schemaName } : {}) },
  });
  const db = drizzle(sql, { schema });
  let closed = false;
  return {
    db,
    sql,
    schemaName: options.schemaName,
    async close() {
      if (closed) return;
      closed = true;
      await sql.end({ timeout: 5 });
    },
  };
}
