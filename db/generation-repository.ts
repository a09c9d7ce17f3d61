/**
 * Persistence of requests, attempts and audit rows. Every write is idempotent, because
 * processing is at-least-once: a request ends with exactly one result row and one final audit
 * row whatever crashes and retries happen in between.
 */
import { eq, sql } from 'drizzle-orm';
import type postgres from 'postgres';
import { type FieldError, RequestRowMissingError } from '../shared/errors.ts';
import type { GenerationResult } from '../shared/generation-result.ts';
import { formatUsd, parseUsd, type Picodollars, type TokenUsage, usdToNumber } from '../shared/money.ts';
import { storableJson } from '../shared/storable-text.ts';
import { AUDIT_ACTIONS, type AttemptOutcome, type AttemptRole, type FailureReason, type FinalStatus } from '../shared/outcomes.ts';
import type { OrchestratorSettings } from '../shared/settings.ts';
import type { ModelPricing } from '../shared/models.ts';
import type { Workflow } from '../shared/workflow-schema.ts';
import type { Database } from './client.ts';
import {
  attemptParams,
  BEGIN_BATCH_SQL,
  BEGIN_SQL,
  beginBatchParams,
  type BeginRow,
  beginParams,
  type BeginValues,
  FINISH_BATCH_SQL,
  FINISH_SQL,
  FINISH_WITHOUT_ATTEMPT_SQL,
  finishBatchParams,
  finishParams,
  type FinishValues,
  type PriorAttemptJson,
  RECORD_ATTEMPT_SQL,
  RECORD_HANDOVER_SQL,
  type ResultColumns,
  type SqlParam,
} from './generation-statements.ts';
import { auditLogs, workflowGenerations } from './schema.ts';
import { isDbConnectionError } from './transient-errors.ts';
import { type BatchReport, WriteBatcher } from './write-batcher.ts';

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
  /** The prices `cost` was computed at (null when read back: only the cost is needed then). */
  readonly pricing?: ModelPricing | null;
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

/**
 * recordAttempt, recordHandover and finish need the request's row, written by `begin`; when it
 * is missing they write nothing and throw RequestRowMissingError.
 */
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
/** An attempt as `begin` returns it (JSON built in SQL: timestamps are ISO strings, cost a decimal string). */
function fromAttemptJson(r: PriorAttemptJson): AttemptRecord {
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
    startedAt: new Date(r.startedAt),
    finishedAt: new Date(r.finishedAt),
  };
}

/** Accepts a full row or just the columns it reads (the hot-path statements return only those). */
export function rowToResult(row: Row | ResultColumns): GenerationResult {
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

export interface RepositoryOptions {
  /**
   * Group commit of `begin` and `finish` (write-batcher.ts): how many batches of each may be in
   * flight at once (default 4), and the largest batch (default 50). `maxBatch: 1` turns it off.
   */
  readonly batching?: { readonly maxInFlight?: number; readonly maxBatch?: number };
  /** Told of each batch of `begin` or `finish` sent (for metrics and tests). */
  readonly onBatch?: (write: 'begin' | 'finish', report: BatchReport) => void;
}

interface FinishItem {
  readonly values: FinishValues;
  readonly attempt: AttemptRecord | null;
}

/** Rows of a batch statement in the order of its items (null where it returned none). */
function byJobId<T extends { jobId: string }>(items: readonly { jobId: string }[], rows: readonly T[]): (T | null)[] {
  const found = new Map(rows.map((r) => [r.jobId, r]));
  return items.map((i) => found.get(i.jobId) ?? null);
}

export class DrizzleGenerationRepository implements GenerationRepository {
  /** The pool under the query builder: the hot-path statements run on it, prepared. */
  private readonly sql: postgres.Sql;
  private readonly begins: WriteBatcher<BeginValues, BeginRow | null>;
  private readonly finishes: WriteBatcher<FinishItem, ResultColumns | null>;

  private readonly db: Database;

  constructor(
    db: Database,
    options: RepositoryOptions = {},
  ) {
    this.db = db;
    const client = (db as Database & { $client?: postgres.Sql }).$client;
    if (!client) throw new Error('DrizzleGenerationRepository needs the database handle from connectDatabase (a transaction will not do)');
    this.sql = client;
    const batching = options.batching ?? {};
    this.begins = new WriteBatcher({
      ...batching,
      onBatch: (r) => options.onBatch?.('begin', r),
      isTransient: isDbConnectionError,
      key: (v) => v.jobId,
      runOne: async (v) => (await this.run<BeginRow>(BEGIN_SQL, beginParams(v)))[0] ?? null,
      runBatch: async (vs) => byJobId(vs, await this.run<BeginRow>(BEGIN_BATCH_SQL, beginBatchParams(vs))),
    });
    this.finishes = new WriteBatcher({
      ...batching,
      onBatch: (r) => options.onBatch?.('finish', r),
      isTransient: isDbConnectionError,
      key: (i) => i.values.jobId,
      runOne: async (i) => (await this.run<ResultColumns>(i.attempt ? FINISH_SQL : FINISH_WITHOUT_ATTEMPT_SQL, finishParams(i.values, i.attempt)))[0] ?? null,
      runBatch: async (is) => byJobId(is.map((i) => i.values), await this.run<ResultColumns>(FINISH_BATCH_SQL, finishBatchParams(is))),
    });
  }

  private run<T>(text: string, params: SqlParam[]): Promise<T[]> {
    return this.sql.unsafe(text, params, { prepare: true }) as unknown as Promise<T[]>;
  }

  async begin(input: BeginInput): Promise<BeginResult> {
    const values: BeginValues = { ...input, primaryModel: input.settings.primaryModel };
    // Nothing comes back only when a concurrent pick-up committed the row during the statement.
    const row = (await this.begins.submit(values)) ?? (await this.run<BeginRow>(BEGIN_SQL, beginParams(values)))[0];
    if (!row) throw new Error(`begin(${input.jobId}) returned no row`);
    if (row.inserted) return { fresh: true, settings: input.settings, final: null, attempts: [] };
    const settings = (row.settings as OrchestratorSettings | null) ?? input.settings;
    if (row.status !== 'queued') return { fresh: false, settings, final: rowToResult(row), attempts: [] };
    return { fresh: false, settings, final: null, attempts: (row.priorAttempts ?? []).map(fromAttemptJson) };
  }

  async recordAttempt(attempt: AttemptRecord): Promise<void> {
    const [row] = await this.run<{ hasRow: boolean }>(RECORD_ATTEMPT_SQL, attemptParams(attempt));
    if (!row?.hasRow) throw new RequestRowMissingError(attempt.jobId, 'recordAttempt');
  }

  async recordHandover(attempt: AttemptRecord, h: HandoverRecord): Promise<void> {
    const details = {
      primary_model: h.primaryModel,
      fallback_model: h.fallbackModel,
      reason: h.reason,
      tokens_wasted: attempt.usage.inputTokens + attempt.usage.outputTokens + attempt.usage.cachedInputTokens + attempt.usage.cacheWriteTokens,
      cost_usd_wasted: usdToNumber(attempt.cost),
      attempt_number: attempt.attemptNumber,
      error_message: attempt.errorMessage,
    };
    const [row] = await this.run<{ hasRow: boolean }>(RECORD_HANDOVER_SQL, [...attemptParams(attempt), h.userId, h.agentId, h.jobId, JSON.stringify(details)]);
    if (!row?.hasRow) throw new RequestRowMissingError(h.jobId, 'recordHandover');
  }

  async finish(o: FinalOutcome, lastAttempt: AttemptRecord | null): Promise<GenerationResult> {
    const generated = o.status !== 'failed';
    // The totals (tokens_used, cost_usd, generation_time_ms, attempts) are added by the statement.
    const details = generated
      ? {
          generator_used: o.generatorUsed,
          primary_model: o.primaryModel,
          fallback_model: o.fallbackModel,
          steps_generated: o.stepsGenerated,
          validation_passed: o.validationPassed,
          validation_errors: o.validationErrors,
          fallback_reason: o.fallbackReason,
        }
      : { reason: o.failureReason, primary_model: o.primaryModel, fallback_model: o.fallbackModel, fallback_reason: o.fallbackReason };
    const values: FinishValues = {
      jobId: o.jobId,
      status: o.status,
      workflow: o.workflow,
      stepsGenerated: o.stepsGenerated,
      generatorUsed: o.generatorUsed,
      primaryModel: o.primaryModel,
      fallbackReason: o.fallbackReason,
      validationPassed: o.validationPassed,
      validationErrors: o.validationErrors,
      failureReason: o.failureReason,
      finishedAt: o.finishedAt,
      auditAction: generated ? AUDIT_ACTIONS.generated : AUDIT_ACTIONS.failed,
      auditSeverity: generated ? 'info' : 'error',
      userId: o.userId,
      agentId: o.agentId,
      auditDetails: details,
    };
    const row = await this.finishes.submit({ values, attempt: lastAttempt });
    // The statement leaves the workflow out of its answer: it is the one just written.
    if (row) return rowToResult({ ...row, workflow: o.workflow });
    // Another run of this request finished first: its row and audit stand (read afresh, after it committed).
    const existing = await this.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, o.jobId));
    // Still queued: a run that re-created a lost row committed it after this statement began.
    if (!existing[0] || existing[0].status === 'queued') throw new RequestRowMissingError(o.jobId, 'finish');
    return rowToResult(existing[0]);
  }

  async reject(raw: RejectInput): Promise<GenerationResult> {
    // The errors of a bad job may quote its keys, which may hold NUL or lone surrogates.
    const input = { ...raw, request: storableJson(raw.request), errors: storableJson(raw.errors) };
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
