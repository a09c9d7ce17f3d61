/**
 * Rows as the hand-written statements send and read them, derived from the Drizzle tables: the
 * column names, SQL types and driver encodings all come from schema.ts, so a column is declared
 * once. The statements need them because their input is a CTE of typed values (numbered
 * parameters, or one JSON array for a batch), not the query builder's own `insert … values`.
 *
 * Values are sent as text with explicit casts: Drizzle replaces postgres.js' serializers for
 * timestamps and JSON on the shared client, so each value is encoded by its column's own
 * `mapToDriverValue` (a Date as ISO text, JSON as text), and read back by `mapFromDriverValue`.
 */
import { type Column, is, type SQL, sql } from 'drizzle-orm';
import { PgJsonb, PgNumeric } from 'drizzle-orm/pg-core';

/** Columns by property name, as `getTableColumns` returns them (or a pick of them). */
export type Columns = Readonly<Record<string, Column>>;

/** A row keyed by property name with every column of `C`: a missing key is a type error, not a NULL. */
export type RowOf<C extends Columns> = { readonly [K in keyof C]: C[K]['_']['data'] | (C[K]['_']['notNull'] extends true ? never : null) };

const entries = (columns: Columns): [string, Column][] => Object.entries(columns);

function encode(column: Column, value: unknown): unknown {
  return value === null || value === undefined ? null : column.mapToDriverValue(value);
}

/** The row's values keyed `${prefix}.${column name}`: the placeholders of paramsRow(columns, prefix). */
export function placeholderValues<C extends Columns>(columns: C, prefix: string, row: RowOf<C>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, column] of entries(columns)) values[`${prefix}.${column.name}`] = encode(column, (row as Record<string, unknown>)[key]);
  return values;
}

/** The row keyed by column name, as one element of jsonRows' array (JSON columns stay JSON). */
export function jsonRecord<C extends Columns>(columns: C, row: RowOf<C>): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const [key, column] of entries(columns)) {
    const value = (row as Record<string, unknown>)[key];
    record[column.name] = is(column, PgJsonb) ? (value ?? null) : encode(column, value);
  }
  return record;
}

/** A row as read by `select`, keyed as the columns' property names (see selectList). */
export function fromDriverRow<C extends Columns>(columns: C, raw: Readonly<Record<string, unknown>>, key: (name: string, column: Column) => string = (k) => k): RowOf<C> {
  const row: Record<string, unknown> = {};
  for (const [name, column] of entries(columns)) {
    const value = raw[key(name, column)];
    row[name] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as RowOf<C>;
}

const type = (column: Column): SQL => sql.raw(column.getSQLType());

/** One input row from named placeholders (`${prefix}.${column name}`), cast and named as the columns. */
export function paramsRow(columns: Columns, prefix: string): SQL {
  return sql`select ${sql.join(
    entries(columns).map(([, c]) => sql`${sql.placeholder(`${prefix}.${c.name}`)}::${type(c)} as ${sql.identifier(c.name)}`),
    sql`, `,
  )}`;
}

/** Input rows from one JSON array placeholder of jsonRecord objects. */
export function jsonRows(columns: Columns, placeholder: string): SQL {
  const spec = sql.join(entries(columns).map(([, c]) => sql`${sql.identifier(c.name)} ${type(c)}`), sql`, `);
  return sql`select * from jsonb_to_recordset(${sql.placeholder(placeholder)}::jsonb) as r(${spec})`;
}

/** `a, b, c`: the column names, for `insert into t (…) select … from input`. */
export function nameList(columns: Columns, table?: string): SQL {
  return sql.join(entries(columns).map(([, c]) => (table ? sql`${sql.identifier(table)}.${sql.identifier(c.name)}` : sql.identifier(c.name))), sql`, `);
}

/** `t.a as "key", …`: the columns named as their property names, for fromDriverRow. */
export function selectList(columns: Columns, table?: string): SQL {
  return sql.join(
    entries(columns).map(([key, c]) => sql`${table ? sql`${sql.identifier(table)}.` : sql``}${sql.identifier(c.name)} as ${sql.identifier(key)}`),
    sql`, `,
  );
}

/**
 * `json_build_object('col', t.col, …)` keyed by column name, numerics as text: JSON numbers
 * would round them (a cost has 12 decimals). Read back with fromDriverRow(…, byColumnName).
 */
export function jsonObject(columns: Columns, table: string): SQL {
  return sql`json_build_object(${sql.join(
    entries(columns).map(([, c]) => {
      const value = sql`${sql.identifier(table)}.${sql.identifier(c.name)}`;
      return sql`${sql.raw(`'${c.name}'`)}, ${is(c, PgNumeric) ? sql`${value}::text` : value}`;
    }),
    sql`, `,
  )})`;
}

export const byColumnName = (_key: string, column: Column): string => column.name;
