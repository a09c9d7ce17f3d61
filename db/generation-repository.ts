/**
 * Persistence of requests, attempts and audit rows. Every write is idempotent, because
 * processing is at-least-once: a request ends with exactly one result row and one final audit
 * row whatever crashes and retries happen in between.
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { FieldError } from '../shared/errors.js';
import type { GenerationResult } from '../shared/generation-result.js';
import { formatUsd, parseUsd, type Picodollars, type TokenUsage, usdToNumber } from '../shared/money.js';
import { AUDIT_ACTIONS, type AttemptOutcome, type AttemptRole, type FailureReason, type FinalStatus } from '../shared/outcomes.js';
import type { OrchestratorSettings } from '../shared/settings.js';
import type { Workflow } from '../shared/workflow-schema.js';
import type { Database } from './client.js';
import { auditLogs, generationAttempts, workflowGenerations } from './schema.js';

export interface AttemptRecord {
  readonly jobId: string;
  readonly attemptNumber: number;
  readonly model: string;
  readonly provider: string;
  readonly role: AttemptRole;
  readonly outcome: AttemptOutcome;
  readonly validationErrors: readonly FieldError[] | null;
  readonly errorMessage: string | null;
  readonly httpStatus: number | null;
  readonly retryAfterMs: number | null;
  readonly usage: TokenUsage;
  readonly cost: Picodollars;
  readonly latencyMs: number;
  readonly settings: OrchestratorSettings;
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

export interface RequestIdentity {
  readonly jobId: string;
  readonly userId: string | null;
  readonly agentId: string | null;
}

export interface BeginInput extends RequestIdentity {
  readonly request: unknown;
  readonly settings: OrchestratorSettings;
  readonly enqueuedAt: Date;
  readonly startedAt: Date;
}

export interface BeginResult {
  /** True the first time the request is seen; then there is nothing to resume. */
  readonly fresh: boolean;
  /** The settings fixed at the request's first pick-up. */
  readonly settings: OrchestratorSettings;
  /** Set when the request already finished: replay it, do not call a model again. */
  readonly final: GenerationResult | null;
  /** Attempts already recorded, oldest first (empty when fresh). */
  readonly attempts: readonly AttemptRecord[];
}

export interface FinalOutcome extends RequestIdentity {
  readonly status: Exclude<FinalStatus, 'rejected'>;
  readonly workflow: Workflow | null;
  readonly stepsGenerated: number;
  readonly generatorUsed: string | null;
  readonly primaryModel: string;
  readonly fallbackModel: string | null;
  readonly fallbackReason: FailureReason | null;
  readonly validationPassed: boolean | null;
  readonly validationErrors: readonly FieldError[] | null;
  readonly failureReason: string | null;
  readonly finishedAt: Date;
}

export interface HandoverRecord extends RequestIdentity {
  readonly primaryModel: string;
  readonly fallbackModel: string;
  readonly reason: FailureReason;
}

export interface RejectInput extends RequestIdentity {
  readonly request: unknown;
  readonly errors: readonly FieldError[];
  readonly enqueuedAt: Date;
  readonly finishedAt: Date;
}

export interface GenerationRepository {
  begin(input: BeginInput): Promise<BeginResult>;
  recordAttempt(attempt: AttemptRecord): Promise<void>;
  /** The failed primary attempt and the FALLBACK audit row, in one transaction. */
  recordHandover(attempt: AttemptRecord, handover: HandoverRecord): Promise<void>;
  /** The last attempt (if any), the result row and the final audit row, in one transaction. */
  finish(outcome: FinalOutcome, lastAttempt: AttemptRecord | null): Promise<GenerationResult>;
  reject(input: RejectInput): Promise<GenerationResult>;
  findResult(jobId: string): Promise<GenerationResult | null>;
}

type Row = typeof workflowGenerations.$inferSelect;
type AttemptRow = typeof generationAttempts.$inferInsert;

function attemptRow(a: AttemptRecord): AttemptRow {
  return {
    jobId: a.jobId,
    attemptNumber: a.attemptNumber,
    model: a.model,
    provider: a.provider,
    role: a.role,
    outcome: a.outcome,
    validationErrors: a.validationErrors,
    errorMessage: a.errorMessage?.slice(0, 2_000) ?? null,
    httpStatus: a.httpStatus,
    retryAfterMs: a.retryAfterMs,
    inputTokens: a.usage.inputTokens,
    outputTokens: a.usage.outputTokens,
    cachedInputTokens: a.usage.cachedInputTokens,
    cacheWriteTokens: a.usage.cacheWriteTokens,
    costUsd: formatUsd(a.cost),
    latencyMs: Math.round(a.latencyMs),
    settings: a.settings,
    startedAt: a.startedAt,
    finishedAt: a.finishedAt,
  };
}

function fromAttemptRow(r: typeof generationAttempts.$inferSelect): AttemptRecord {
  return {
    jobId: r.jobId,
    attemptNumber: r.attemptNumber,
    model: r.model,
    provider: r.provider,
    role: r.role as AttemptRole,
    outcome: r.outcome as AttemptOutcome,
    validationErrors: (r.validationErrors as FieldError[] | null) ?? null,
    errorMessage: r.errorMessage,
    httpStatus: r.httpStatus,
    retryAfterMs: r.retryAfterMs,
    usage: { inputTokens: r.inputTokens, outputTokens: r.outputTokens, cachedInputTokens: r.cachedInputTokens, cacheWriteTokens: r.cacheWriteTokens },
    cost: parseUsd(r.costUsd),
    latencyMs: r.latencyMs,
    settings: r.settings as OrchestratorSettings,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

export function rowToResult(row: Row): GenerationResult {
  const workflow = (row.workflow as Workflow | null) ?? null;
  return {
    job_id: row.jobId,
    status: row.status as FinalStatus,
    workflow,
    pilot_steps: workflow?.pilot_steps ?? null,
    steps_generated: row.stepsGenerated ?? 0,
    generator_used: row.generatorUsed,
    primary_model: row.primaryModel,
    fallback_reason: (row.fallbackReason as FailureReason | null) ?? null,
    validation_passed: row.validationPassed,
    validation_errors: (row.validationErrors as FieldError[] | null) ?? null,
    failure_reason: row.failureReason,
    attempts: row.attempts,
    tokens: {
      input: row.inputTokens,
      output: row.outputTokens,
      cached_input: row.cachedInputTokens,
      cache_write: row.cacheWriteTokens,
      total: row.totalTokens,
    },
    cost_usd: usdToNumber(parseUsd(row.costUsd)),
    cost_usd_exact: formatUsd(parseUsd(row.costUsd)),
    generation_time_ms: row.generationTimeMs,
  };
}

const FINAL_AUDIT_TARGET = sql`action in ('WORKFLOW_GENERATED', 'WORKFLOW_GENERATION_FAILED', 'WORKFLOW_GENERATION_REJECTED')`;

export class DrizzleGenerationRepository implements GenerationRepository {
  constructor(private readonly db: Database) {}

  async begin(input: BeginInput): Promise<BeginResult> {
    const [row] = await this.db
      .insert(workflowGenerations)
      .values({
        jobId: input.jobId,
        userId: input.userId,
        agentId: input.agentId,
        request: input.request,
        settings: input.settings,
        primaryModel: input.settings.primaryModel,
        enqueuedAt: input.enqueuedAt,
        startedAt: input.startedAt,
      })
      .onConflictDoUpdate({ target: workflowGenerations.jobId, set: { startedAt: sql`coalesce(${workflowGenerations.startedAt}, excluded.started_at)` } })
      .returning({ inserted: sql<boolean>`(xmax = 0)` });
    if (!row) throw new Error(`begin(${input.jobId}) returned no row`);
    if (row.inserted) return { fresh: true, settings: input.settings, final: null, attempts: [] };
    const current = await this.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, input.jobId));
    const stored = current[0]!;
    if (stored.status !== 'queued') return { fresh: false, settings: (stored.settings as OrchestratorSettings) ?? input.settings, final: rowToResult(stored), attempts: [] };
    const attempts = await this.db.select().from(generationAttempts).where(eq(generationAttempts.jobId, input.jobId)).orderBy(asc(generationAttempts.attemptNumber));
    return {
      fresh: false,
      settings: (stored.settings as OrchestratorSettings | null) ?? input.settings,
      final: null,
      attempts: attempts.map(fromAttemptRow),
    };
  }

  async recordAttempt(attempt: AttemptRecord): Promise<void> {
    await this.db.insert(generationAttempts).values(attemptRow(attempt)).onConflictDoNothing();
  }

  async recordHandover(attempt: AttemptRecord, h: HandoverRecord): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.insert(generationAttempts).values(attemptRow(attempt)).onConflictDoNothing();
      await tx
        .insert(auditLogs)
        .values({
          action: AUDIT_ACTIONS.fallback,
          severity: 'warning',
          userId: h.userId,
          agentId: h.agentId,
          jobId: h.jobId,
          details: {
            primary_model: h.primaryModel,
            fallback_model: h.fallbackModel,
            reason: h.reason,
            tokens_wasted: attempt.usage.inputTokens + attempt.usage.outputTokens + attempt.usage.cachedInputTokens + attempt.usage.cacheWriteTokens,
            cost_usd_wasted: usdToNumber(attempt.cost),
            attempt_number: attempt.attemptNumber,
            error_message: attempt.errorMessage,
          },
        })
        .onConflictDoNothing({ target: auditLogs.jobId, where: sql`action = 'WORKFLOW_GENERATION_FALLBACK'` });
    });
  }

  async finish(o: FinalOutcome, lastAttempt: AttemptRecord | null): Promise<GenerationResult> {
    return this.db.transaction(async (tx) => {
      if (lastAttempt) await tx.insert(generationAttempts).values(attemptRow(lastAttempt)).onConflictDoNothing();
      const [totals] = await tx
        .select({
          attempts: sql<number>`count(*)::int`,
          input: sql<number>`coalesce(sum(${generationAttempts.inputTokens}), 0)::int`,
          output: sql<number>`coalesce(sum(${generationAttempts.outputTokens}), 0)::int`,
          cachedInput: sql<number>`coalesce(sum(${generationAttempts.cachedInputTokens}), 0)::int`,
          cacheWrite: sql<number>`coalesce(sum(${generationAttempts.cacheWriteTokens}), 0)::int`,
          cost: sql<string>`coalesce(sum(${generationAttempts.costUsd}), 0)::text`,
        })
        .from(generationAttempts)
        .where(eq(generationAttempts.jobId, o.jobId));
      const t = totals!;
      const totalTokens = t.input + t.output + t.cachedInput + t.cacheWrite;
      const updated = await tx
        .update(workflowGenerations)
        .set({
          status: o.status,
          workflow: o.workflow,
          stepsGenerated: o.stepsGenerated,
          generatorUsed: o.generatorUsed,
          primaryModel: o.primaryModel,
          fallbackReason: o.fallbackReason,
          validationPassed: o.validationPassed,
          validationErrors: o.validationErrors,
          failureReason: o.failureReason,
          attempts: t.attempts,
          inputTokens: t.input,
          outputTokens: t.output,
          cachedInputTokens: t.cachedInput,
          cacheWriteTokens: t.cacheWrite,
          totalTokens,
          costUsd: t.cost,
          finishedAt: o.finishedAt,
          generationTimeMs: sql`greatest(0, round(extract(epoch from (${o.finishedAt.toISOString()}::timestamptz - coalesce(${workflowGenerations.startedAt}, ${workflowGenerations.createdAt}))) * 1000))::int`,
          updatedAt: sql`now()`,
        })
        .where(and(eq(workflowGenerations.jobId, o.jobId), eq(workflowGenerations.status, 'queued')))
        .returning();
      const row = updated[0];
      if (!row) {
        // Another run of this request finished first: its row and audit stand.
        const existing = await tx.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, o.jobId));
        if (!existing[0]) throw new Error(`finish(${o.jobId}): no workflow_generations row`);
        return rowToResult(existing[0]);
      }
      const cost = usdToNumber(parseUsd(t.cost));
      const generated = o.status !== 'failed';
      await tx
        .insert(auditLogs)
        .values({
          action: generated ? AUDIT_ACTIONS.generated : AUDIT_ACTIONS.failed,
          severity: generated ? 'info' : 'error',
          userId: o.userId,
          agentId: o.agentId,
          jobId: o.jobId,
          details: generated
            ? {
                generator_used: o.generatorUsed,
                primary_model: o.primaryModel,
                fallback_model: o.fallbackModel,
                steps_generated: o.stepsGenerated,
                tokens_used: totalTokens,
                cost_usd: cost,
                generation_time_ms: row.generationTimeMs,
                validation_passed: o.validationPassed,
                validation_errors: o.validationErrors,
                fallback_reason: o.fallbackReason,
                attempts: t.attempts,
              }
            : {
                reason: o.failureReason,
                primary_model: o.primaryModel,
                fallback_model: o.fallbackModel,
                fallback_reason: o.fallbackReason,
                tokens_used: totalTokens,
                cost_usd: cost,
                generation_time_ms: row.generationTimeMs,
                attempts: t.attempts,
              },
        })
        .onConflictDoNothing({ target: auditLogs.jobId, where: FINAL_AUDIT_TARGET });
      return rowToResult(row);
    });
  }

  async reject(input: RejectInput): Promise<GenerationResult> {
    const reason = input.errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ');
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(workflowGenerations)
        .values({
          jobId: input.jobId,
          userId: input.userId,
          agentId: input.agentId,
          request: input.request,
          status: 'rejected',
          validationErrors: input.errors,
          failureReason: reason,
          enqueuedAt: input.enqueuedAt,
          finishedAt: input.finishedAt,
          generationTimeMs: 0,
        })
        .onConflictDoNothing({ target: workflowGenerations.jobId })
        .returning();
      if (!row) {
        const existing = await tx.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, input.jobId));
        return rowToResult(existing[0]!);
      }
      await tx
        .insert(auditLogs)
        .values({
          action: AUDIT_ACTIONS.rejected,
          severity: 'warning',
          userId: input.userId,
          agentId: input.agentId,
          jobId: input.jobId,
          details: { reason, errors: input.errors, tokens_used: 0, cost_usd: 0 },
        })
        .onConflictDoNothing({ target: auditLogs.jobId, where: FINAL_AUDIT_TARGET });
      return rowToResult(row);
    });
  }

  async findResult(jobId: string): Promise<GenerationResult | null> {
    const rows = await this.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, jobId));
    const row = rows[0];
    return row && row.status !== 'queued' ? rowToResult(row) : null;
  }
}
