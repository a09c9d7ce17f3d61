/**
 * begin: the request row (first pick-up wins `started_at`), whether this call inserted it, and,
 * when it already existed unfinished, its recorded attempts oldest first: one round trip on
 * every path.
 *
 * An existing row that has its pick-up time is only read: the fallback job's `begin` (and a
 * resumed job's) writes nothing, so its commit waits for no WAL flush.
 *
 * The pick-up row is committed with `synchronous_commit` off for this statement only: the
 * commit does not wait for its WAL flush (the WAL writer flushes it within a few hundred ms).
 * Nothing depends on that row surviving a database crash on its own: every later write of the
 * request commits durably, and a durable commit flushes all WAL written before it, this row
 * included; a write that finds the row gone raises RequestRowMissingError and the worker writes
 * the row again from the job it holds (see generation-processor). The statement sees rows
 * committed before it began: when a concurrent pick-up inserted the row after that, it returns
 * nothing for that request and the caller runs it again.
 *
 * The prior attempts come back as one JSON array per request (`json_agg`), which the query
 * builder cannot express inside a data-modifying CTE; hence a `sql` template.
 */
import { getTableColumns, type SQL, sql } from 'drizzle-orm';
import { byColumnName, fromDriverRow, jsonObject, jsonRecord, jsonRows, nameList, paramsRow, placeholderValues, type RowOf, selectList } from '../columns.ts';
import { defineStatement } from '../port.ts';
import { ATTEMPT_COLUMNS, type AttemptRecord, fromAttemptRow } from '../rows/attempt.ts';
import { RESULT_COLUMNS, type ResultRow } from '../rows/result.ts';
import { workflowGenerations } from '../schema.ts';
import { INPUT_KEYS, QUEUED } from './fragments.ts';

const c = getTableColumns(workflowGenerations);
const BEGIN_COLUMNS = {
  jobId: c.jobId,
  userId: c.userId,
  agentId: c.agentId,
  request: c.request,
  settings: c.settings,
  primaryModel: c.primaryModel,
  enqueuedAt: c.enqueuedAt,
  startedAt: c.startedAt,
};
export type BeginValues = RowOf<typeof BEGIN_COLUMNS>;

function beginSql(input: SQL): SQL {
  const result = selectList(RESULT_COLUMNS);
  const resultOfG = selectList(RESULT_COLUMNS, 'g');
  return sql`
with input as (${input}),
ins as (
  insert into workflow_generations (${nameList(BEGIN_COLUMNS)})
  select ${nameList(BEGIN_COLUMNS)} from input
  on conflict (job_id) do nothing
  returning settings, true as inserted, ${result}
),
picked as (
  -- A row the producer wrote at acceptance has no settings yet: this first pick-up fixes them.
  update workflow_generations g set started_at = i.started_at, settings = coalesce(g.settings, i.settings), primary_model = coalesce(g.primary_model, i.primary_model)
  from input i
  where g.job_id = i.job_id and g.job_id = ${INPUT_KEYS} and g.started_at is null and not exists (select 1 from ins where ins."jobId" = i.job_id)
  returning g.settings, false as inserted, ${resultOfG}
),
existing as (
  select g.settings, false as inserted, ${resultOfG} from workflow_generations g join input i on i.job_id = g.job_id
  where g.job_id = ${INPUT_KEYS} and not exists (select 1 from ins where ins."jobId" = g.job_id) and not exists (select 1 from picked where picked."jobId" = g.job_id)
),
up as (select * from ins union all select * from picked union all select * from existing)
select up.*,
  case when not up.inserted and up.status = ${QUEUED} then (
    select coalesce(json_agg(${jsonObject(ATTEMPT_COLUMNS, 'a')} order by a.attempt_number), '[]'::json)
    from generation_attempts a where a.job_id = up."jobId")
  end as "priorAttempts"
from up cross join (select set_config('synchronous_commit', 'off', true)) as commit_without_flush`;
}

/** One request. */
export const BEGIN = defineStatement('wo_begin', beginSql(paramsRow(BEGIN_COLUMNS, 'b')), (v: BeginValues) => placeholderValues(BEGIN_COLUMNS, 'b', v));
/** Several requests (distinct job ids), from one JSON array; one row per request, as BEGIN. */
export const BEGIN_BATCH = defineStatement('wo_begin_batch', beginSql(jsonRows(BEGIN_COLUMNS, 'items')), (vs: readonly BeginValues[]) => ({
  items: JSON.stringify(vs.map((v) => jsonRecord(BEGIN_COLUMNS, v))),
}));

export interface BegunRow extends ResultRow {
  readonly settings: unknown;
  readonly inserted: boolean;
  /** Recorded attempts, oldest first; null when fresh or finished. */
  readonly priorAttempts: readonly AttemptRecord[] | null;
}

export function decodeBegun(raw: Readonly<Record<string, unknown>>): BegunRow {
  const prior = raw.priorAttempts as readonly Record<string, unknown>[] | null;
  return {
    ...fromDriverRow(RESULT_COLUMNS, raw),
    settings: raw.settings,
    inserted: raw.inserted as boolean,
    priorAttempts: prior && prior.map((a) => fromAttemptRow(fromDriverRow(ATTEMPT_COLUMNS, a, byColumnName))),
  };
}
