/**
 * The admin console's live figures, straight from Postgres: the seed's monitoring queries over
 * audit_logs (fallback rate, spend per generator), and the per-attempt figures over
 * generation_attempts that the seed's queries cannot see (a primary answer that failed
 * validation and was handed over leaves no WORKFLOW_GENERATED row of its own).
 *
 * Every query covers `now() - days` to now (days may be a fraction: the last hour is 1/24).
 * Money comes back as exact decimal strings.
 */
import { sql } from 'drizzle-orm';
import { AUDIT_ACTIONS, type AttemptRole, VALIDATION_FAILURE_KINDS, type ValidationFailureKind } from '../shared/outcomes.ts';
import type { Database } from './client.ts';

/** The console's and the stats API's windows, as fractions of days (the queries take days). */
export const STATS_WINDOWS = { '1h': 1 / 24, '24h': 1, '7d': 7, '30d': 30 } as const;
export type StatsWindow = keyof typeof STATS_WINDOWS;

const ANSWERED = sql.raw(`(${['ok', ...VALIDATION_FAILURE_KINDS].map((k) => `'${k}'`).join(', ')})`);
const since = (days: number) => sql`now() - make_interval(secs => ${Math.round(days * 86_400)})`;

async function rows<T>(db: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  return Array.from(await db.execute<Record<string, unknown>>(query)) as T[];
}

/** The seed's fallback-rate query: WORKFLOW_GENERATED rows with a fallback reason, over all of them. */
export async function fallbackRate(db: Database, days: number): Promise<{ total: number; fallbacks: number }> {
  const [r] = await rows<{ total: number; fallbacks: number }>(
    db,
    sql`SELECT count(*)::int AS total,
               count(*) FILTER (WHERE details->>'fallback_reason' IS NOT NULL)::int AS fallbacks
          FROM audit_logs
         WHERE action = ${AUDIT_ACTIONS.generated} AND timestamp > ${since(days)}`,
  );
  return r ?? { total: 0, fallbacks: 0 };
}

export interface GeneratorRow {
  readonly generator: string;
  readonly workflows: number;
  readonly validationPassed: number;
  readonly totalCostUsd: string;
  readonly avgCostUsd: string;
}

/** The seed's cost and validation queries: WORKFLOW_GENERATED rows by generator_used. */
export async function spendByGenerator(db: Database, days: number): Promise<GeneratorRow[]> {
  return rows<GeneratorRow>(
    db,
    sql`SELECT coalesce(details->>'generator_used', 'none') AS generator,
               count(*)::int AS workflows,
               count(*) FILTER (WHERE (details->>'validation_passed')::boolean = true)::int AS "validationPassed",
               coalesce(sum((details->>'cost_usd')::numeric), 0)::text AS "totalCostUsd",
               coalesce(avg((details->>'cost_usd')::numeric), 0)::text AS "avgCostUsd"
          FROM audit_logs
         WHERE action = ${AUDIT_ACTIONS.generated} AND timestamp > ${since(days)}
         GROUP BY 1
         ORDER BY 2 DESC, 1`,
  );
}

export interface AttemptRow {
  readonly model: string;
  readonly role: AttemptRole;
  readonly attempts: number;
  /** Attempts that returned an answer (ok or a validation failure), as opposed to a call failure. */
  readonly answered: number;
  readonly passed: number;
  readonly failures: Record<ValidationFailureKind, number>;
  readonly costUsd: string;
}

/** Every model attempt by model and role: answers, passes, each validation failure kind, spend. */
export async function attemptsByModel(db: Database, days: number): Promise<AttemptRow[]> {
  const kinds = sql.join(
    VALIDATION_FAILURE_KINDS.map((k) => sql`count(*) FILTER (WHERE outcome = ${k})::int AS ${sql.identifier(`f_${k}`)}`),
    sql`, `,
  );
  const raw = await rows<Record<string, unknown>>(
    db,
    sql`SELECT model, role,
               count(*)::int AS attempts,
               count(*) FILTER (WHERE outcome IN ${ANSWERED})::int AS answered,
               count(*) FILTER (WHERE outcome = 'ok')::int AS passed,
               ${kinds},
               coalesce(sum(cost_usd), 0)::text AS cost_usd
          FROM generation_attempts
         WHERE started_at > ${since(days)}
         GROUP BY model, role
         ORDER BY model, role`,
  );
  return raw.map((r) => ({
    model: String(r.model),
    role: r.role as AttemptRole,
    attempts: Number(r.attempts),
    answered: Number(r.answered),
    passed: Number(r.passed),
    failures: Object.fromEntries(VALIDATION_FAILURE_KINDS.map((k) => [k, Number(r[`f_${k}`])])) as Record<ValidationFailureKind, number>,
    costUsd: String(r.cost_usd),
  }));
}

export interface FinalRow {
  readonly action: string;
  readonly requests: number;
  /** WORKFLOW_GENERATED rows whose workflow passed validation: the usable workflows. */
  readonly usable: number;
  readonly costUsd: string;
}

/** Final audit rows (generated, failed, rejected) with their spend: what finished requests cost. */
export async function finalOutcomes(db: Database, days: number): Promise<FinalRow[]> {
  return rows<FinalRow>(
    db,
    sql`SELECT action,
               count(*)::int AS requests,
               count(*) FILTER (WHERE (details->>'validation_passed')::boolean = true)::int AS usable,
               coalesce(sum((details->>'cost_usd')::numeric), 0)::text AS "costUsd"
          FROM audit_logs
         WHERE action IN (${AUDIT_ACTIONS.generated}, ${AUDIT_ACTIONS.failed}, ${AUDIT_ACTIONS.rejected})
           AND timestamp > ${since(days)}
         GROUP BY action
         ORDER BY action`,
  );
}

/** Hand-overs to the fallback model (WORKFLOW_GENERATION_FALLBACK rows). */
export async function handovers(db: Database, days: number): Promise<number> {
  const [r] = await rows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM audit_logs WHERE action = ${AUDIT_ACTIONS.fallback} AND timestamp > ${since(days)}`);
  return r?.n ?? 0;
}

/** Requests picked up by a worker in the window, by their current status ('queued' = still running). */
export async function requestsByStatus(db: Database, days: number): Promise<Record<string, number>> {
  const raw = await rows<{ status: string; n: number }>(
    db,
    sql`SELECT status, count(*)::int AS n FROM workflow_generations WHERE created_at > ${since(days)} GROUP BY status`,
  );
  return Object.fromEntries(raw.map((r) => [r.status, r.n]));
}

export interface UsageAverage {
  readonly samples: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly cacheWriteTokens: number;
}

/** Average token usage of successful attempts (any model): what a real workflow takes. */
export async function averageWorkflowUsage(db: Database, days: number): Promise<UsageAverage> {
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`SELECT count(*)::int AS samples,
               coalesce(round(avg(input_tokens)), 0)::int AS input,
               coalesce(round(avg(output_tokens)), 0)::int AS output,
               coalesce(round(avg(cached_input_tokens)), 0)::int AS cached,
               coalesce(round(avg(cache_write_tokens)), 0)::int AS cache_write
          FROM generation_attempts
         WHERE outcome = 'ok' AND started_at > ${since(days)}`,
  );
  return {
    samples: Number(r?.samples ?? 0),
    inputTokens: Number(r?.input ?? 0),
    outputTokens: Number(r?.output ?? 0),
    cachedInputTokens: Number(r?.cached ?? 0),
    cacheWriteTokens: Number(r?.cache_write ?? 0),
  };
}

/** Average cost of each model's successful attempts: what a workflow costs on it, measured. */
export async function averageOkCostByModel(db: Database, days: number): Promise<Map<string, { samples: number; avgCostUsd: string }>> {
  const raw = await rows<{ model: string; samples: number; avg: string }>(
    db,
    sql`SELECT model, count(*)::int AS samples, avg(cost_usd)::text AS avg
          FROM generation_attempts
         WHERE outcome = 'ok' AND started_at > ${since(days)}
         GROUP BY model`,
  );
  return new Map(raw.map((r) => [String(r.model), { samples: Number(r.samples), avgCostUsd: String(r.avg) }]));
}
