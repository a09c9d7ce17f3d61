/**
 * Persistence of requests, attempts and audit rows. Every write is idempotent, because
 * processing is at-least-once: a request ends with exactly one result row and one final audit
 * row whatever crashes and retries happen in between.
 */
import { eq } from 'drizzle-orm';
import { type FieldError, RequestRowMissingError } from '../shared/errors.ts';
import type { GenerationResult } from '../shared/generation-result.ts';
import { usdToNumber } from '../shared/money.ts';
import { storableJson, storableText } from '../shared/storable-text.ts';
import { AUDIT_ACTIONS, type AuditSeverity, type HandoverReason, type FinalStatus } from '../shared/outcomes.ts';
import type { OrchestratorSettings } from '../shared/settings.ts';
import type { Workflow } from '../shared/workflow-schema.ts';
import type { Database } from './client.ts';
import { SqlPort } from './port.ts';
import { type AttemptRecord, type AttemptRow, toAttemptRow } from './rows/attempt.ts';
import { type ResultRow, rowToResult } from './rows/result.ts';
import { auditLogs, workflowGenerations } from './schema.ts';
import { BEGIN, BEGIN_BATCH, type BeginValues, type BegunRow, decodeBegun } from './statements/begin.ts';
import { FINISH, FINISH_BATCH, FINISH_WITHOUT_ATTEMPT, type FinishBatchItem, type FinishRow } from './statements/finish.ts';
import { FINAL_ACTIONS } from './statements/fragments.ts';
import { RECORD_ATTEMPT } from './statements/record-attempt.ts';
import { RECORD_HANDOVER } from './statements/record-handover.ts';
import { isDbConnectionError } from './transient-errors.ts';
import { type BatchReport, WriteBatcher } from './write-batcher.ts';

export type { AttemptRecord } from './rows/attempt.ts';
export { rowToResult } from './rows/result.ts';

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
  readonly fallbackReason: HandoverReason | null;
  readonly validationPassed: boolean | null;
  readonly validationErrors: readonly FieldError[] | null;
  readonly failureReason: string | null;
  readonly finishedAt: Date;
}

export interface HandoverRecord extends RequestIdentity {
  /** The model handing over, and the one the request goes to. */
  readonly primaryModel: string;
  readonly fallbackModel: string;
  readonly reason: HandoverReason;
  /** The ladder step the request goes to: 1 for the fallback, k for the chain's k-th model. */
  readonly step: number;
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
  /** `attempt` null: the step was skipped without a call (its model's circuit open); the audit row alone. */
  recordHandover(attempt: AttemptRecord | null, handover: HandoverRecord): Promise<void>;
  /** The last attempt (if any), the result row and the final audit row, in one transaction. */
  finish(outcome: FinalOutcome, lastAttempt: AttemptRecord | null): Promise<GenerationResult>;
  reject(input: RejectInput): Promise<GenerationResult>;
  findResult(jobId: string): Promise<GenerationResult | null>;
}

export interface RepositoryOptions {
  /**
   * Group commit of `begin` and `finish` (write-batcher.ts): how many batches of each may be in
   * flight at once (default 4), and the largest batch (default 50). `maxBatch: 1` turns it off.
   */
  readonly batching?: { readonly maxInFlight?: number; readonly maxBatch?: number };
  /** Told of each batch of `begin` or `finish` sent (for metrics and tests). */
  readonly onBatch?: (write: 'begin' | 'finish', report: BatchReport) => void;
}

/** Rows of a batch statement in the order of its items (null where it returned none). */
function byJobId<T extends { jobId: string }>(items: readonly { jobId: string }[], rows: readonly T[]): (T | null)[] {
  const found = new Map(rows.map((r) => [r.jobId, r]));
  return items.map((i) => found.get(i.jobId) ?? null);
}

/** The result row and final audit row `finish` writes for the outcome (the statement adds the totals). */
function toFinishRow(o: FinalOutcome): FinishRow {
  const generated = o.status !== 'failed';
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
  const { fallbackModel: _fallbackModel, ...columns } = o;
  return {
    ...columns,
    validationErrors: storableJson(o.validationErrors),
    failureReason: o.failureReason == null ? null : storableText(o.failureReason),
    action: generated ? AUDIT_ACTIONS.generated : AUDIT_ACTIONS.failed,
    severity: (generated ? 'info' : 'error') satisfies AuditSeverity,
    details: storableJson(details),
  };
}

function handoverDetails(attempt: AttemptRecord, h: HandoverRecord): Record<string, unknown> {
  const u = attempt.usage;
  return {
    primary_model: h.primaryModel,
    fallback_model: h.fallbackModel,
    from_model: h.primaryModel,
    to_model: h.fallbackModel,
    reason: h.reason,
    step: h.step,
    tokens_wasted: u.inputTokens + u.outputTokens + u.cachedInputTokens + u.cacheWriteTokens,
    cost_usd_wasted: usdToNumber(attempt.cost),
    attempt_number: attempt.attemptNumber,
    error_message: attempt.errorMessage,
  };
}

export class DrizzleGenerationRepository implements GenerationRepository {
  private readonly db: Database;
  private readonly port: SqlPort;
  private readonly begins: WriteBatcher<BeginValues, BegunRow | null>;
  private readonly finishes: WriteBatcher<FinishBatchItem, ResultRow | null>;

  constructor(db: Database, options: RepositoryOptions = {}) {
    this.db = db;
    const port = (this.port = new SqlPort(db));
    const batching = options.batching ?? {};
    const decodeResult = (raw: Record<string, unknown>) => decodeBegun(raw) as ResultRow;
    this.begins = new WriteBatcher({
      ...batching,
      onBatch: (r) => options.onBatch?.('begin', r),
      isTransient: isDbConnectionError,
      key: (v) => v.jobId,
      runOne: async (v) => (await port.run(BEGIN, v)).map(decodeBegun)[0] ?? null,
      runBatch: async (vs) => byJobId(vs, (await port.run(BEGIN_BATCH, vs)).map(decodeBegun)),
    });
    this.finishes = new WriteBatcher({
      ...batching,
      onBatch: (r) => options.onBatch?.('finish', r),
      isTransient: isDbConnectionError,
      key: (i) => i.finish.jobId,
      runOne: async ({ finish, attempt }) => (await (attempt ? port.run(FINISH, { finish, attempt }) : port.run(FINISH_WITHOUT_ATTEMPT, finish))).map(decodeResult)[0] ?? null,
      runBatch: async (is) => byJobId(is.map((i) => i.finish), (await port.run(FINISH_BATCH, is)).map(decodeResult)),
    });
  }

  async begin(input: BeginInput): Promise<BeginResult> {
    const values: BeginValues = { ...input, primaryModel: input.settings.primaryModel };
    // Nothing comes back only when a concurrent pick-up committed the row during the statement.
    const row = (await this.begins.submit(values)) ?? (await this.port.run(BEGIN, values)).map(decodeBegun)[0];
    if (!row) throw new Error(`begin(${input.jobId}) returned no row`);
    if (row.inserted) return { fresh: true, settings: input.settings, final: null, attempts: [] };
    const settings = (row.settings as OrchestratorSettings | null) ?? input.settings;
    if (row.status !== 'queued') return { fresh: false, settings, final: rowToResult(row), attempts: [] };
    return { fresh: false, settings, final: null, attempts: row.priorAttempts ?? [] };
  }

  async recordAttempt(attempt: AttemptRecord): Promise<void> {
    const [row] = await this.port.run<AttemptRow, { hasRow: boolean }>(RECORD_ATTEMPT, toAttemptRow(attempt));
    if (!row?.hasRow) throw new RequestRowMissingError(attempt.jobId, 'recordAttempt');
  }

  async recordHandover(attempt: AttemptRecord | null, h: HandoverRecord): Promise<void> {
    if (!attempt) return this.recordSkip(h);
    const values = { attempt: toAttemptRow(attempt), userId: h.userId, agentId: h.agentId, jobId: h.jobId, details: handoverDetails(attempt, h) };
    const [row] = await this.port.run<typeof values, { hasRow: boolean }>(RECORD_HANDOVER, values);
    if (!row?.hasRow) throw new RequestRowMissingError(h.jobId, 'recordHandover');
  }

  /** A step skipped without a call: its FALLBACK row (one per step, like any hand-over), off the hot path. */
  private async recordSkip(h: HandoverRecord): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx.select({ jobId: workflowGenerations.jobId }).from(workflowGenerations).where(eq(workflowGenerations.jobId, h.jobId));
      if (!row) throw new RequestRowMissingError(h.jobId, 'recordHandover');
      const details = { primary_model: h.primaryModel, fallback_model: h.fallbackModel, from_model: h.primaryModel, to_model: h.fallbackModel, reason: h.reason, step: h.step, tokens_wasted: 0, cost_usd_wasted: 0, attempt_number: null, error_message: null };
      await tx.insert(auditLogs).values({ action: AUDIT_ACTIONS.fallback, severity: 'warning', userId: h.userId, agentId: h.agentId, jobId: h.jobId, details }).onConflictDoNothing();
    });
  }

  async finish(o: FinalOutcome, lastAttempt: AttemptRecord | null): Promise<GenerationResult> {
    const row = await this.finishes.submit({ finish: toFinishRow(o), attempt: lastAttempt && toAttemptRow(lastAttempt) });
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
          severity: 'warning' satisfies AuditSeverity,
          userId: input.userId,
          agentId: input.agentId,
          jobId: input.jobId,
          details: { reason, errors: input.errors, tokens_used: 0, cost_usd: 0 },
        })
        .onConflictDoNothing({ target: auditLogs.jobId, where: FINAL_ACTIONS });
      return rowToResult(row);
    });
  }

  async findResult(jobId: string): Promise<GenerationResult | null> {
    const rows = await this.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, jobId));
    const row = rows[0];
    return row && row.status !== 'queued' ? rowToResult(row) : null;
  }
}
