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
 */
import type { AttemptRecord } from './generation-repository.js';
import { formatUsd } from '../shared/money.js';

export type SqlParam = string | number | boolean | null;

const FINAL_ACTIONS = "action in ('WORKFLOW_GENERATED', 'WORKFLOW_GENERATION_FAILED', 'WORKFLOW_GENERATION_REJECTED')";

const ATTEMPT_COLUMNS: readonly (readonly [column: string, cast: string])[] = [
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
  ['latency_ms', 'int'],
  ['settings', 'jsonb'],
  ['started_at', 'timestamptz'],
  ['finished_at', 'timestamptz'],
];

/**
 * `insert into generation_attempts … on conflict do nothing`, its values numbered from `$first`;
 * with `onlyIfRequest`, nothing is inserted unless the request's row exists.
 */
function insertAttempt(first: number, returning = '', onlyIfRequest = false): string {
  const columns = ATTEMPT_COLUMNS.map(([c]) => c).join(', ');
  const values = ATTEMPT_COLUMNS.map(([, cast], i) => `$${first + i}::${cast}`).join(', ');
  const guard = onlyIfRequest ? ` where exists (select 1 from workflow_generations where job_id = $${first}::text)` : '';
  return `insert into generation_attempts (${columns}) select ${values}${guard} on conflict do nothing${returning ? ` returning ${returning}` : ''}`;
}

const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** The attempt's values in the order of ATTEMPT_COLUMNS (the same mapping as the query-builder insert). */
export function attemptParams(a: AttemptRecord): SqlParam[] {
  return [
    a.jobId,
    a.attemptNumber,
    a.model,
    a.provider,
    a.role,
    a.outcome,
    json(a.validationErrors),
    a.errorMessage?.slice(0, 2_000) ?? null,
    a.httpStatus,
    a.retryAfterMs,
    a.usage.inputTokens,
    a.usage.outputTokens,
    a.usage.cachedInputTokens,
    a.usage.cacheWriteTokens,
    formatUsd(a.cost),
    Math.round(a.latencyMs),
    json(a.settings),
    a.startedAt.toISOString(),
    a.finishedAt.toISOString(),
  ];
}

/** The columns rowToResult reads, named as the query builder names them; `workflow` may be replaced. */
function resultColumns(workflow = 'workflow'): string {
  return `job_id as "jobId", status, ${workflow} as workflow, steps_generated as "stepsGenerated", generator_used as "generatorUsed",
  primary_model as "primaryModel", fallback_reason as "fallbackReason", validation_passed as "validationPassed",
  validation_errors as "validationErrors", failure_reason as "failureReason", attempts, input_tokens as "inputTokens",
  output_tokens as "outputTokens", cached_input_tokens as "cachedInputTokens", cache_write_tokens as "cacheWriteTokens",
  total_tokens as "totalTokens", cost_usd::text as "costUsd", generation_time_ms as "generationTimeMs"`;
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
export const BEGIN_SQL = `
with ins as (
  insert into workflow_generations (job_id, user_id, agent_id, request, settings, primary_model, enqueued_at, started_at)
  values ($1::text, $2::text, $3::text, $4::jsonb, $5::jsonb, $6::text, $7::timestamptz, $8::timestamptz)
  on conflict (job_id) do nothing
  returning settings, true as inserted, ${resultColumns()}
),
picked as (
  update workflow_generations g set started_at = $8::timestamptz
  where g.job_id = $1::text and g.started_at is null and not exists (select 1 from ins)
  returning g.settings, false as inserted, ${resultColumns()}
),
existing as (
  select g.settings, false as inserted, ${resultColumns()} from workflow_generations g
  where g.job_id = $1::text and not exists (select 1 from ins) and not exists (select 1 from picked)
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

export function beginParams(i: { jobId: string; userId: string | null; agentId: string | null; request: unknown; settings: unknown; primaryModel: string; enqueuedAt: Date; startedAt: Date }): SqlParam[] {
  return [i.jobId, i.userId, i.agentId, json(i.request), json(i.settings), i.primaryModel, i.enqueuedAt.toISOString(), i.startedAt.toISOString()];
}

/** recordAttempt: one attempt, only when the request's row exists (`hasRow` says whether it did). */
export const RECORD_ATTEMPT_SQL = `
with attempt as (${insertAttempt(1, 'job_id', true)})
select exists (select 1 from workflow_generations where job_id = $1::text) as "hasRow"`;

/**
 * recordHandover: the failed primary attempt and the FALLBACK audit row (at most one per
 * request), atomically, and only when the request's row exists (`hasRow` says whether it did).
 * Params: the attempt's 19, then user, agent, job id, details.
 */
export const RECORD_HANDOVER_SQL = `
with attempt as (${insertAttempt(1, 'job_id', true)}),
audited as (
  insert into audit_logs (action, severity, user_id, agent_id, job_id, details)
  select 'WORKFLOW_GENERATION_FALLBACK', 'warning', $20::text, $21::text, $22::text, $23::jsonb
  where exists (select 1 from workflow_generations where job_id = $22::text)
  on conflict (job_id) where action = 'WORKFLOW_GENERATION_FALLBACK' do nothing
)
select exists (select 1 from workflow_generations where job_id = $22::text) as "hasRow"`;

/**
 * finish: the last attempt (when given), the result row (only if still queued) with totals over
 * every attempt, and the final audit row (at most one per request), atomically. The audit
 * details are the caller's (`$16`) plus the totals and the generation time the row got. Without
 * the request's row nothing is written (as the transaction it replaces rolled back). Returns
 * the finished row (its workflow left out: the caller has it), or nothing when another run had
 * finished the request already.
 *
 * Params: job id, status, workflow, steps, generator, primary model, fallback reason,
 * validation passed, validation errors, failure reason, finished at, audit action, severity,
 * user, agent, audit details; then the attempt's 19 when `withAttempt`.
 */
function finishSql(withAttempt: boolean): string {
  return `
with ${withAttempt ? `new_attempt as (${insertAttempt(17, 'input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost_usd', true)}),` : ''}
spent as (
  select input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost_usd from generation_attempts where job_id = $1::text
  ${withAttempt ? 'union all select input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost_usd from new_attempt' : ''}
),
totals as (
  select count(*)::int as attempts,
         coalesce(sum(input_tokens), 0)::int as input,
         coalesce(sum(output_tokens), 0)::int as output,
         coalesce(sum(cached_input_tokens), 0)::int as cached_input,
         coalesce(sum(cache_write_tokens), 0)::int as cache_write,
         coalesce(sum(cost_usd), 0) as cost
  from spent
),
finished as (
  update workflow_generations g set
    status = $2::text, workflow = $3::jsonb, steps_generated = $4::int, generator_used = $5::text, primary_model = $6::text,
    fallback_reason = $7::text, validation_passed = $8::boolean, validation_errors = $9::jsonb, failure_reason = $10::text,
    attempts = t.attempts, input_tokens = t.input, output_tokens = t.output, cached_input_tokens = t.cached_input,
    cache_write_tokens = t.cache_write, total_tokens = t.input + t.output + t.cached_input + t.cache_write, cost_usd = t.cost,
    finished_at = $11::timestamptz,
    generation_time_ms = greatest(0, round(extract(epoch from ($11::timestamptz - coalesce(g.started_at, g.created_at))) * 1000))::int,
    updated_at = now()
  from totals t
  where g.job_id = $1::text and g.status = 'queued'
  returning g.*
),
audited as (
  insert into audit_logs (action, severity, user_id, agent_id, job_id, details)
  select $12::text, $13::text, $14::text, $15::text, $1::text,
         $16::jsonb || jsonb_build_object('tokens_used', f.total_tokens, 'cost_usd', trim_scale(f.cost_usd), 'generation_time_ms', f.generation_time_ms, 'attempts', f.attempts)
  from finished f
  on conflict (job_id) where ${FINAL_ACTIONS} do nothing
)
select ${resultColumns('null::jsonb')} from finished`;
}

export const FINISH_SQL = finishSql(true);
export const FINISH_WITHOUT_ATTEMPT_SQL = finishSql(false);
