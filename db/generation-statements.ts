/**
 * The repository's hot-path writes as single SQL statements, run as prepared statements.
 *
 * Each request runs `begin` once per job and then either `finish` or `recordHandover`. Through
 * the query builder these were a transaction of up to six statements, each sent unprepared
 * (postgres.js then parses and describes before it binds: two round trips a statement), so a
 * request held a pooled connection for about ten round trips. Written as one statement each
 * (data-modifying CTEs are atomic like a transaction) and prepared once per connection, they
 * cost one round trip, and the SQL text is built once per process instead of once per call.
 *
 * Parameters are passed as text with explicit casts: Drizzle replaces postgres.js' serializers
 * for timestamps and JSON on the shared client, so Dates and objects are never passed raw.
 *
 * `begin` and `finish` also come as batch statements (see write-batcher.ts): the same SQL with
 * its input read from one JSON array (`jsonb_to_recordset`) instead of numbered parameters, so
 * a batch of one and the single statement are the same statement.
 */
import type { AttemptRecord } from './generation-repository.ts';
import { formatUsd } from '../shared/money.ts';
import { storableJson, storableText } from '../shared/storable-text.ts';

export type SqlParam = string | number | boolean | null;

const FINAL_ACTIONS = "action in ('WORKFLOW_GENERATED', 'WORKFLOW_GENERATION_FAILED', 'WORKFLOW_GENERATION_REJECTED')";

const ATTEMPT_COLUMNS = [
  ['job_id', 'text'],
  ['attempt_number', 'int'],
  ['model', 'text'],
  ['provider', 'text'],
  ['role', 'text'],
  ['outcome', 'text'],
  ['validation_errors', 'jsonb'],
  ['error_message', 'text'],
  ['http_status', 'int'],
  ['retry_after_ms', 'int'],
  ['input_tokens', 'int'],
  ['output_tokens', 'int'],
  ['cached_input_tokens', 'int'],
  ['cache_write_tokens', 'int'],
  ['cost_usd', 'numeric'],
  ['price_input_per_mtok', 'numeric'],
  ['price_output_per_mtok', 'numeric'],
  ['price_cached_input_per_mtok', 'numeric'],
  ['price_cache_write_per_mtok', 'numeric'],
  ['latency_ms', 'int'],
  ['settings', 'jsonb'],
  ['started_at', 'timestamptz'],
  ['finished_at', 'timestamptz'],
] as const satisfies Columns;

type Columns = readonly (readonly [column: string, cast: string])[];
/** A row keyed by exactly the columns of `C`: a missing or misspelled key is a type error, not a NULL. */
type RowOf<C extends Columns> = Record<C[number][0], unknown>;

/** One input row from numbered parameters, `$first` onwards, named and cast as `columns`. */
function paramsRow(columns: Columns, first: number): string {
  return `select ${columns.map(([c, cast], i) => `$${first + i}::${cast} as ${c}`).join(', ')}`;
}

/** Input rows from one JSON array parameter of objects keyed by column name. */
function jsonRows(columns: Columns, param: string): string {
  return `select * from jsonb_to_recordset(${param}::jsonb) as r(${columns.map(([c, cast]) => `${c} ${cast}`).join(', ')})`;
}

/**
 * `insert into generation_attempts … on conflict do nothing` of the rows of the CTE `input`
 * (ATTEMPT_COLUMNS), each only when its request's row exists (looked up as keysOf says).
 */
function insertAttempts(input: string, returning = ''): string {
  const columns = ATTEMPT_COLUMNS.map(([c]) => c).join(', ');
  return `insert into generation_attempts (${columns}) select ${columns} from ${input} a
  where exists (select 1 from workflow_generations g where g.job_id = a.job_id and g.job_id = ${keysOf(input)})
  on conflict do nothing${returning ? ` returning ${returning}` : ''}`;
}

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
function keysOf(input: string): string {
  return `any(array(select job_id from ${input}))`;
}

const INPUT_KEYS = keysOf('input');

const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** A record keyed by column name as numbered parameters, in the order of `columns` (JSON as text). */
function paramsOf<C extends Columns>(columns: C, record: RowOf<C>): SqlParam[] {
  const values = record as Record<string, unknown>;
  return columns.map(([column, cast]) => (cast === 'jsonb' ? json(values[column]) : ((values[column] ?? null) as SqlParam)));
}

/** The attempt keyed by column name (the same mapping as the query-builder insert). */
function attemptRecord(a: AttemptRecord): RowOf<typeof ATTEMPT_COLUMNS> {
  return {
    job_id: a.jobId,
    attempt_number: a.attemptNumber,
    model: a.model,
    provider: a.provider,
    role: a.role,
    outcome: a.outcome,
    // Our text about the answer may quote it: made storable, so the paid attempt always lands.
    validation_errors: storableJson(a.validationErrors),
    error_message: a.errorMessage == null ? null : storableText(a.errorMessage.slice(0, 2_000)),
    http_status: a.httpStatus,
    retry_after_ms: a.retryAfterMs,
    input_tokens: a.usage.inputTokens,
    output_tokens: a.usage.outputTokens,
    cached_input_tokens: a.usage.cachedInputTokens,
    cache_write_tokens: a.usage.cacheWriteTokens,
    cost_usd: formatUsd(a.cost),
    // The prices charged, so that a later price change never rewrites what this attempt cost.
    price_input_per_mtok: a.pricing?.inputPerMTok ?? null,
    price_output_per_mtok: a.pricing?.outputPerMTok ?? null,
    price_cached_input_per_mtok: a.pricing?.cachedInputPerMTok ?? null,
    price_cache_write_per_mtok: a.pricing?.cacheWritePerMTok ?? null,
    latency_ms: Math.round(a.latencyMs),
    settings: a.settings,
    started_at: a.startedAt.toISOString(),
    finished_at: a.finishedAt.toISOString(),
  };
}

/** The attempt as statement parameters, in the order of ATTEMPT_COLUMNS. */
export function attemptParams(a: AttemptRecord): SqlParam[] {
  return paramsOf(ATTEMPT_COLUMNS, attemptRecord(a));
}

/** The columns rowToResult reads, named as the query builder names them; `workflow` may be replaced. */
function resultColumns(workflow = 'workflow', table = ''): string {
  const t = table ? `${table}.` : '';
  return `${t}job_id as "jobId", ${t}status, ${workflow === 'workflow' ? `${t}workflow` : workflow} as workflow, ${t}steps_generated as "stepsGenerated", ${t}generator_used as "generatorUsed",
  ${t}primary_model as "primaryModel", ${t}fallback_reason as "fallbackReason", ${t}validation_passed as "validationPassed",
  ${t}validation_errors as "validationErrors", ${t}failure_reason as "failureReason", ${t}attempts, ${t}input_tokens as "inputTokens",
  ${t}output_tokens as "outputTokens", ${t}cached_input_tokens as "cachedInputTokens", ${t}cache_write_tokens as "cacheWriteTokens",
  ${t}total_tokens as "totalTokens", ${t}cost_usd::text as "costUsd", ${t}generation_time_ms as "generationTimeMs"`;
}

export interface ResultColumns {
  readonly jobId: string;
  readonly status: string;
  readonly workflow: unknown;
  readonly stepsGenerated: number | null;
  readonly generatorUsed: string | null;
  readonly primaryModel: string | null;
  readonly fallbackReason: string | null;
  readonly validationPassed: boolean | null;
  readonly validationErrors: unknown;
  readonly failureReason: string | null;
  readonly attempts: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly cacheWriteTokens: number;
  readonly totalTokens: number;
  readonly costUsd: string;
  readonly generationTimeMs: number | null;
}

/**
 * begin: the request row (first pick-up wins `started_at`), whether this call inserted it, and,
 * when it already existed unfinished, its recorded attempts oldest first: one round trip on
 * every path. Params: job id, user, agent, request, settings, primary model, enqueued, started.
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
 * nothing and the caller runs it again.
 */
const BEGIN_COLUMNS = [
  ['job_id', 'text'],
  ['user_id', 'text'],
  ['agent_id', 'text'],
  ['request', 'jsonb'],
  ['settings', 'jsonb'],
  ['primary_model', 'text'],
  ['enqueued_at', 'timestamptz'],
  ['started_at', 'timestamptz'],
] as const satisfies Columns;

function beginSql(input: string): string {
  return `
with input as (${input}),
ins as (
  insert into workflow_generations (job_id, user_id, agent_id, request, settings, primary_model, enqueued_at, started_at)
  select job_id, user_id, agent_id, request, settings, primary_model, enqueued_at, started_at from input
  on conflict (job_id) do nothing
  returning settings, true as inserted, ${resultColumns()}
),
picked as (
  update workflow_generations g set started_at = i.started_at
  from input i
  where g.job_id = i.job_id and g.job_id = ${INPUT_KEYS} and g.started_at is null and not exists (select 1 from ins where ins."jobId" = i.job_id)
  returning g.settings, false as inserted, ${resultColumns('workflow', 'g')}
),
existing as (
  select g.settings, false as inserted, ${resultColumns('workflow', 'g')} from workflow_generations g join input i on i.job_id = g.job_id
  where g.job_id = ${INPUT_KEYS} and not exists (select 1 from ins where ins."jobId" = g.job_id) and not exists (select 1 from picked where picked."jobId" = g.job_id)
),
up as (select * from ins union all select * from picked union all select * from existing)
select up.*,
  case when not up.inserted and up.status = 'queued' then (
    select coalesce(json_agg(json_build_object(
      'jobId', a.job_id, 'attemptNumber', a.attempt_number, 'model', a.model, 'provider', a.provider, 'role', a.role,
      'outcome', a.outcome, 'validationErrors', a.validation_errors, 'errorMessage', a.error_message,
      'httpStatus', a.http_status, 'retryAfterMs', a.retry_after_ms, 'inputTokens', a.input_tokens,
      'outputTokens', a.output_tokens, 'cachedInputTokens', a.cached_input_tokens, 'cacheWriteTokens', a.cache_write_tokens,
      'costUsd', a.cost_usd::text, 'latencyMs', a.latency_ms, 'settings', a.settings,
      'startedAt', a.started_at, 'finishedAt', a.finished_at) order by a.attempt_number), '[]'::json)
    from generation_attempts a where a.job_id = up."jobId")
  end as "priorAttempts"
from up cross join (select set_config('synchronous_commit', 'off', true)) as commit_without_flush`;
}

/**
 * begin: the request row (first pick-up wins `started_at`), whether this call inserted it, and,
 * when it already existed unfinished, its recorded attempts oldest first: one round trip on
 * every path. Params: job id, user, agent, request, settings, primary model, enqueued, started.
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
 */
export const BEGIN_SQL = beginSql(paramsRow(BEGIN_COLUMNS, 1));
/** begin for several requests (distinct job ids): `$1` is a JSON array of beginRecord objects; one row per request, as BEGIN_SQL. */
export const BEGIN_BATCH_SQL = beginSql(jsonRows(BEGIN_COLUMNS, '$1'));

export interface BeginRow extends ResultColumns {
  readonly settings: unknown;
  readonly inserted: boolean;
  /** JSON of the attempt rows (timestamps as ISO strings); null when fresh or finished. */
  readonly priorAttempts: PriorAttemptJson[] | null;
}

export interface PriorAttemptJson {
  readonly jobId: string;
  readonly attemptNumber: number;
  readonly model: string;
  readonly provider: string;
  readonly role: string;
  readonly outcome: string;
  readonly validationErrors: unknown;
  readonly errorMessage: string | null;
  readonly httpStatus: number | null;
  readonly retryAfterMs: number | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly cacheWriteTokens: number;
  readonly costUsd: string;
  readonly latencyMs: number;
  readonly settings: unknown;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface BeginValues {
  readonly jobId: string;
  readonly userId: string | null;
  readonly agentId: string | null;
  readonly request: unknown;
  readonly settings: unknown;
  readonly primaryModel: string;
  readonly enqueuedAt: Date;
  readonly startedAt: Date;
}

/** One request of BEGIN_BATCH_SQL's input, keyed as BEGIN_COLUMNS. */
function beginRecord(i: BeginValues): RowOf<typeof BEGIN_COLUMNS> {
  return {
    job_id: i.jobId,
    user_id: i.userId,
    agent_id: i.agentId,
    request: i.request,
    settings: i.settings,
    primary_model: i.primaryModel,
    enqueued_at: i.enqueuedAt.toISOString(),
    started_at: i.startedAt.toISOString(),
  };
}

/** BEGIN_SQL's parameters. */
export function beginParams(i: BeginValues): SqlParam[] {
  return paramsOf(BEGIN_COLUMNS, beginRecord(i));
}

/** BEGIN_BATCH_SQL's parameter. */
export function beginBatchParams(items: readonly BeginValues[]): SqlParam[] {
  return [JSON.stringify(items.map(beginRecord))];
}

/** recordAttempt: one attempt, only when the request's row exists (`hasRow` says whether it did). */
export const RECORD_ATTEMPT_SQL = `
with attempt_input as (${paramsRow(ATTEMPT_COLUMNS, 1)}),
attempt as (${insertAttempts('attempt_input', 'job_id')})
select exists (select 1 from workflow_generations where job_id = $1::text) as "hasRow"`;

/**
 * recordHandover: the failed primary attempt and the FALLBACK audit row (at most one per
 * request), atomically, and only when the request's row exists (`hasRow` says whether it did).
 * Params: the attempt's (ATTEMPT_COLUMNS), then user, agent, job id, details.
 */
const A = ATTEMPT_COLUMNS.length;
export const RECORD_HANDOVER_SQL = `
with attempt_input as (${paramsRow(ATTEMPT_COLUMNS, 1)}),
attempt as (${insertAttempts('attempt_input', 'job_id')}),
audited as (
  insert into audit_logs (action, severity, user_id, agent_id, job_id, details)
  select 'WORKFLOW_GENERATION_FALLBACK', 'warning', $${A + 1}::text, $${A + 2}::text, $${A + 3}::text, $${A + 4}::jsonb
  where exists (select 1 from workflow_generations where job_id = $${A + 3}::text)
  on conflict (job_id) where action = 'WORKFLOW_GENERATION_FALLBACK' do nothing
)
select exists (select 1 from workflow_generations where job_id = $${A + 3}::text) as "hasRow"`;

const FINISH_COLUMNS = [
  ['job_id', 'text'],
  ['status', 'text'],
  ['workflow', 'jsonb'],
  ['steps_generated', 'int'],
  ['generator_used', 'text'],
  ['primary_model', 'text'],
  ['fallback_reason', 'text'],
  ['validation_passed', 'boolean'],
  ['validation_errors', 'jsonb'],
  ['failure_reason', 'text'],
  ['finished_at', 'timestamptz'],
  ['audit_action', 'text'],
  ['audit_severity', 'text'],
  ['user_id', 'text'],
  ['agent_id', 'text'],
  ['audit_details', 'jsonb'],
] as const satisfies Columns;

/**
 * finish: the last attempt (when given), the result row (only if still queued) with totals over
 * every attempt, and the final audit row (at most one per request), atomically. The audit
 * details are the caller's plus the totals and the generation time the row got. Without the
 * request's row nothing is written (as the transaction it replaces rolled back). Returns the
 * finished row (its workflow left out: the caller has it), or nothing when another run had
 * finished the request already.
 */
function finishSql(input: string, attempts: string | null): string {
  const tokens = 'input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost_usd';
  return `
with input as (${input}),
${attempts ? `attempt_input as (${attempts}),
new_attempt as (${insertAttempts('attempt_input', `job_id, ${tokens}`)}),` : ''}
spent as (
  select job_id, ${tokens} from generation_attempts where job_id = ${INPUT_KEYS}
  ${attempts ? `union all select job_id, ${tokens} from new_attempt` : ''}
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
  update workflow_generations g set
    status = i.status, workflow = i.workflow, steps_generated = i.steps_generated, generator_used = i.generator_used,
    primary_model = i.primary_model, fallback_reason = i.fallback_reason, validation_passed = i.validation_passed,
    validation_errors = i.validation_errors, failure_reason = i.failure_reason,
    attempts = coalesce(t.attempts, 0), input_tokens = coalesce(t.input, 0), output_tokens = coalesce(t.output, 0),
    cached_input_tokens = coalesce(t.cached_input, 0), cache_write_tokens = coalesce(t.cache_write, 0),
    total_tokens = coalesce(t.input, 0) + coalesce(t.output, 0) + coalesce(t.cached_input, 0) + coalesce(t.cache_write, 0), cost_usd = coalesce(t.cost, 0),
    finished_at = i.finished_at,
    generation_time_ms = greatest(0, round(extract(epoch from (i.finished_at - coalesce(g.started_at, g.created_at))) * 1000))::int,
    updated_at = now()
  from input i left join totals t on t.job_id = i.job_id
  where g.job_id = i.job_id and g.job_id = ${INPUT_KEYS} and g.status = 'queued'
  returning g.*
),
audited as (
  insert into audit_logs (action, severity, user_id, agent_id, job_id, details)
  select i.audit_action, i.audit_severity, i.user_id, i.agent_id, i.job_id,
         i.audit_details || jsonb_build_object('tokens_used', f.total_tokens, 'cost_usd', trim_scale(f.cost_usd), 'generation_time_ms', f.generation_time_ms, 'attempts', f.attempts)
  from finished f join input i on i.job_id = f.job_id
  on conflict (job_id) where ${FINAL_ACTIONS} do nothing
)
select ${resultColumns('null::jsonb')} from finished`;
}

/**
 * Params: job id, status, workflow, steps, generator, primary model, fallback reason,
 * validation passed, validation errors, failure reason, finished at, audit action, severity,
 * user, agent, audit details (FINISH_COLUMNS); then, for FINISH_SQL, the attempt's (ATTEMPT_COLUMNS).
 */
export const FINISH_SQL = finishSql(paramsRow(FINISH_COLUMNS, 1), paramsRow(ATTEMPT_COLUMNS, FINISH_COLUMNS.length + 1));
export const FINISH_WITHOUT_ATTEMPT_SQL = finishSql(paramsRow(FINISH_COLUMNS, 1), null);
/**
 * finish for several requests (distinct job ids): `$1` is a JSON array of FINISH_COLUMNS objects,
 * `$2` one of attemptRecord objects (at most one per request). Returns a row per request finished.
 */
export const FINISH_BATCH_SQL = finishSql(jsonRows(FINISH_COLUMNS, '$1'), jsonRows(ATTEMPT_COLUMNS, '$2'));

export interface FinishValues {
  readonly jobId: string;
  readonly status: string;
  readonly workflow: unknown;
  readonly stepsGenerated: number;
  readonly generatorUsed: string | null;
  readonly primaryModel: string;
  readonly fallbackReason: string | null;
  readonly validationPassed: boolean | null;
  readonly validationErrors: unknown;
  readonly failureReason: string | null;
  readonly finishedAt: Date;
  readonly auditAction: string;
  readonly auditSeverity: string;
  readonly userId: string | null;
  readonly agentId: string | null;
  readonly auditDetails: unknown;
}

function finishRecord(v: FinishValues): RowOf<typeof FINISH_COLUMNS> {
  return {
    job_id: v.jobId,
    status: v.status,
    workflow: v.workflow,
    steps_generated: v.stepsGenerated,
    generator_used: v.generatorUsed,
    primary_model: v.primaryModel,
    fallback_reason: v.fallbackReason,
    validation_passed: v.validationPassed,
    validation_errors: storableJson(v.validationErrors),
    failure_reason: v.failureReason == null ? null : storableText(v.failureReason),
    finished_at: v.finishedAt.toISOString(),
    audit_action: v.auditAction,
    audit_severity: v.auditSeverity,
    user_id: v.userId,
    agent_id: v.agentId,
    audit_details: storableJson(v.auditDetails),
  };
}

/** FINISH_SQL's parameters (with the attempt) or FINISH_WITHOUT_ATTEMPT_SQL's (without). */
export function finishParams(v: FinishValues, attempt: AttemptRecord | null): SqlParam[] {
  const params = paramsOf(FINISH_COLUMNS, finishRecord(v));
  return attempt ? [...params, ...attemptParams(attempt)] : params;
}

/** FINISH_BATCH_SQL's two parameters. */
export function finishBatchParams(items: readonly { readonly values: FinishValues; readonly attempt: AttemptRecord | null }[]): SqlParam[] {
  const attempts = items.flatMap((i) => (i.attempt ? [attemptRecord(i.attempt)] : []));
  return [JSON.stringify(items.map((i) => finishRecord(i.values))), JSON.stringify(attempts)];
}
