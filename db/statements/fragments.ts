/** Pieces the hot-path statements share: the key match that keeps their plans on the primary keys, and the attempt insert. */
import { type SQL, sql } from 'drizzle-orm';
import { AUDIT_ACTIONS, type AuditSeverity, FINAL_AUDIT_ACTIONS, type GenerationStatus } from '../../shared/outcomes.ts';
import { nameList } from '../columns.ts';
import { ATTEMPT_COLUMNS } from '../rows/attempt.ts';
import { oneOf } from '../schema.ts';

/** A closed-set value as an SQL literal: checked against shared/outcomes.ts by tsc, inlined so the statement text stays constant. */
const literal = (value: string): SQL => sql.raw(`'${value}'`);

/** A request that has not finished yet. */
export const QUEUED = literal('queued' satisfies GenerationStatus);
export const FALLBACK_ACTION = literal(AUDIT_ACTIONS.fallback);
export const WARNING = literal('warning' satisfies AuditSeverity);

/** The partial unique index that allows one final audit row per request (schema.ts), as `on conflict` names it. */
export const FINAL_ACTIONS = sql`action in ${oneOf(FINAL_AUDIT_ACTIONS)}`;

/**
 * `= any(…)` of the job ids of the CTE `input`, beside each join on a request's job id.
 *
 * Every statement here touches a handful of requests by primary key, and must keep doing so
 * with an index however large the tables grow. Two things stood in the way of that, together:
 *  - the planner guesses 100 rows for `jsonb_to_recordset`, and joined to a table that is still
 *    small, or has no statistics yet (a new deployment; the benchmark's fresh schema), a hash
 *    join over a sequential scan of the whole table looks cheaper than 100 index probes;
 *  - a prepared statement's generic plan is made once per connection and kept, so the plan made
 *    for a small table scanned all of it on every call as the table grew: the Postgres time of a
 *    batch rose 3-5x over a 12,000-request run.
 * So the statements also match the requests' keys as an array (`job_id = any(…)`, an index
 * condition on its own), and the worker's connections plan with `random_page_cost` 1.1 (the
 * `DATABASE_RANDOM_PAGE_COST` setting): a random page read costed as on SSDs, which is what
 * Postgres' own docs suggest for storage that is not spinning disks. With both, the generic
 * plans use the primary keys at any table size (test/statement-plans.test.ts). Planning every
 * call afresh instead (`plan_cache_mode = force_custom_plan`) would have fixed it too, at
 * +0.5 ms per statement.
 */
export function keysOf(input: string): SQL {
  return sql`any(array(select job_id from ${sql.identifier(input)}))`;
}

export const INPUT_KEYS = keysOf('input');

/**
 * `insert into generation_attempts … on conflict do nothing` of the rows of the CTE `input`
 * (ATTEMPT_COLUMNS), each only when its request's row exists (looked up as keysOf says).
 */
export function insertAttempts(input: string, returning?: SQL): SQL {
  const columns = nameList(ATTEMPT_COLUMNS);
  return sql`insert into generation_attempts (${columns}) select ${columns} from ${sql.identifier(input)} a
  where exists (select 1 from workflow_generations g where g.job_id = a.job_id and g.job_id = ${keysOf(input)})
  on conflict do nothing${returning ? sql` returning ${returning}` : sql``}`;
}
