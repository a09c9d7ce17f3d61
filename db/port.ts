/**
 * The narrow port the hot-path statements run through: a statement is a Drizzle `sql` template
 * with named placeholders, compiled to text once per process, and run through the Drizzle
 * instance as a prepared statement (one per connection), so each call is one round trip: the
 * text is neither rebuilt nor re-parsed and re-described by the server per call. (`db.execute`
 * would send it unprepared: postgres.js then describes before it binds, two round trips a call.)
 */
import { DrizzleQueryError, fillPlaceholders, type SQL } from 'drizzle-orm';
import { PgDialect, type PgPreparedQuery, type PreparedQueryConfig } from 'drizzle-orm/pg-core';
import type { Database } from './client.ts';

const dialect = new PgDialect();

/** What the columns' encoders produce (columns.ts): every value is sent as text, a number, a boolean or null. */
export type SqlParam = string | number | boolean | null;

/** A statement with its input: `bind` turns the caller's values into the placeholders' values. */
export interface Statement<V> {
  /** Names the prepared statement (and the statement in logs and tests). */
  readonly name: string;
  /** The SQL text, `$1`… in the order of `params`. */
  readonly text: string;
  /** Positional parameters for `values`, for running the text on a plain postgres.js connection. */
  params(values: V): SqlParam[];
  readonly query: { readonly sql: string; readonly params: unknown[] };
  readonly bind: (values: V) => Record<string, unknown>;
}

export function defineStatement<V>(name: string, template: SQL, bind: (values: V) => Record<string, unknown>): Statement<V> {
  const query = dialect.sqlToQuery(template);
  return { name, text: query.sql, query, bind, params: (values) => fillPlaceholders(query.params, bind(values)) as SqlParam[] };
}

export class SqlPort {
  private readonly db: Database;
  private readonly prepared = new Map<Statement<never>, PgPreparedQuery<PreparedQueryConfig & { execute: unknown[] }>>();

  constructor(db: Database) {
    this.db = db;
  }

  /** The statement's rows, as the driver returns them (decode with columns.ts). */
  async run<V, R = Record<string, unknown>>(statement: Statement<V>, values: V): Promise<R[]> {
    let query = this.prepared.get(statement as Statement<never>);
    if (!query) {
      query = this.db._.session.prepareQuery<PreparedQueryConfig & { execute: unknown[] }>(statement.query, undefined, statement.name, false);
      this.prepared.set(statement as Statement<never>, query);
    }
    try {
      return (await query.execute(statement.bind(values))) as R[];
    } catch (err) {
      // Drizzle wraps the driver's error in one whose message holds every parameter (request
      // bodies, model answers): pass the driver's own on, with its code, to callers and logs.
      throw err instanceof DrizzleQueryError && err.cause ? err.cause : err;
    }
  }
}
