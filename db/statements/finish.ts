/**
 * finish: the last attempt (when given), the result row (only if still queued) with totals over
 * every attempt, and the final audit row (at most one per request), atomically. The audit
 * details are the caller's plus the totals and the generation time the row got. Without the
 * request's row nothing is written (as the transaction it replaces rolled back). Returns the
 * finished row (its workflow left out: the caller has it), or nothing when another run had
 * finished the request already.
 *
 * Data-modifying CTEs over a typed input (one request, or a batch read from a JSON array) with
 * `returning`: one statement and one commit however many requests it finishes, which the query
 * builder cannot express; hence a `sql` template over the columns of schema.ts.
 */
import { getTableColumns, type SQL, sql } from 'drizzle-orm';
import { jsonRecord, jsonRows, paramsRow, placeholderValues, type RowOf, selectList } from '../columns.ts';
import { defineStatement } from '../port.ts';
import { ATTEMPT_COLUMNS, type AttemptRow } from '../rows/attempt.ts';
import { RESULT_COLUMNS } from '../rows/result.ts';
import { auditLogs, workflowGenerations } from '../schema.ts';
import { FINAL_ACTIONS, INPUT_KEYS, insertAttempts, QUEUED } from './fragments.ts';

const g = getTableColumns(workflowGenerations);
const audit = getTableColumns(auditLogs);
/** The result's columns the caller sets, written as given. */
const SET_AS_GIVEN = {
  status: g.status,
  workflow: g.workflow,
  stepsGenerated: g.stepsGenerated,
  generatorUsed: g.generatorUsed,
  primaryModel: g.primaryModel,
  fallbackReason: g.fallbackReason,
  validationPassed: g.validationPassed,
  validationErrors: g.validationErrors,
  failureReason: g.failureReason,
  finishedAt: g.finishedAt,
};
/** The statement's input per request: those, and what its final audit row needs. */
const FINISH_COLUMNS = { jobId: g.jobId, ...SET_AS_GIVEN, userId: g.userId, agentId: g.agentId, action: audit.action, severity: audit.severity, details: audit.details };
export type FinishRow = RowOf<typeof FINISH_COLUMNS>;

const setAsGiven = sql.join(Object.values(SET_AS_GIVEN).map(({ name }) => sql`${sql.identifier(name)} = i.${sql.identifier(name)}`), sql`, `);
/** The statement leaves the workflow out of its answer: the caller has it. */
const { workflow: _workflow, ...RESULT_BUT_WORKFLOW } = RESULT_COLUMNS;

const TOKENS = sql`input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost_usd`;

function finishSql(input: SQL, attempts: SQL | null): SQL {
  return sql`
with input as (${input}),
${attempts ? sql`attempt_input as (${attempts}),
new_attempt as (${insertAttempts('attempt_input', sql`job_id, ${TOKENS}`)}),` : sql``}
spent as (
  select job_id, ${TOKENS} from generation_attempts where job_id = ${INPUT_KEYS}
  ${attempts ? sql`union all select job_id, ${TOKENS} from new_attempt` : sql``}
),
totals as (
  select job_id,
         count(*)::int as attempts,
         sum(input_tokens)::int as input,
         sum(output_tokens)::int as output,
         sum(cached_input_tokens)::int as cached_input,
         sum(cache_write_tokens)::int as cache_write,
         sum(cost_usd) as cost
  from spent group by job_id
),
finished as (
  update workflow_generations g set ${setAsGiven},
    attempts = coalesce(t.attempts, 0), input_tokens = coalesce(t.input, 0), output_tokens = coalesce(t.output, 0),
    cached_input_tokens = coalesce(t.cached_input, 0), cache_write_tokens = coalesce(t.cache_write, 0),
    total_tokens = coalesce(t.input, 0) + coalesce(t.output, 0) + coalesce(t.cached_input, 0) + coalesce(t.cache_write, 0), cost_usd = coalesce(t.cost, 0),
    generation_time_ms = greatest(0, round(extract(epoch from (i.finished_at - coalesce(g.started_at, g.created_at))) * 1000))::int,
    updated_at = now()
  from input i left join totals t on t.job_id = i.job_id
  where g.job_id = i.job_id and g.job_id = ${INPUT_KEYS} and g.status = ${QUEUED}
  returning g.*
),
audited as (
  insert into audit_logs (action, severity, user_id, agent_id, job_id, details)
  select i.action, i.severity, i.user_id, i.agent_id, i.job_id,
         i.details || jsonb_build_object('tokens_used', f.total_tokens, 'cost_usd', trim_scale(f.cost_usd), 'generation_time_ms', f.generation_time_ms, 'attempts', f.attempts)
  from finished f join input i on i.job_id = f.job_id
  on conflict (job_id) where ${FINAL_ACTIONS} do nothing
)
select ${selectList(RESULT_BUT_WORKFLOW)}, null::jsonb as workflow from finished`;
}

const finishOnly = (v: FinishRow) => placeholderValues(FINISH_COLUMNS, 'f', v);

export const FINISH = defineStatement(
  'wo_finish',
  finishSql(paramsRow(FINISH_COLUMNS, 'f'), paramsRow(ATTEMPT_COLUMNS, 'a')),
  (v: { readonly finish: FinishRow; readonly attempt: AttemptRow }) => ({ ...finishOnly(v.finish), ...placeholderValues(ATTEMPT_COLUMNS, 'a', v.attempt) }),
);
export const FINISH_WITHOUT_ATTEMPT = defineStatement('wo_finish_without_attempt', finishSql(paramsRow(FINISH_COLUMNS, 'f'), null), finishOnly);

export interface FinishBatchItem {
  readonly finish: FinishRow;
  readonly attempt: AttemptRow | null;
}
/** Several requests (distinct job ids), each with at most one attempt; returns a row per request finished. */
export const FINISH_BATCH = defineStatement('wo_finish_batch', finishSql(jsonRows(FINISH_COLUMNS, 'items'), jsonRows(ATTEMPT_COLUMNS, 'attempts')), (items: readonly FinishBatchItem[]) => ({
  items: JSON.stringify(items.map((i) => jsonRecord(FINISH_COLUMNS, i.finish))),
  attempts: JSON.stringify(items.flatMap((i) => (i.attempt ? [jsonRecord(ATTEMPT_COLUMNS, i.attempt)] : []))),
}));
