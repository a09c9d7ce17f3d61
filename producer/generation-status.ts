/**
 * Where a request is, read from its two sources of truth: the stored row in workflow_generations
 * once it finished, and the BullMQ jobs while it runs (the primary job, then the job of the ladder
 * step it was handed over to: the fallback's, then the chain's). Also the stages it has passed, for
 * the event stream.
 */
import type { Job, Queue } from 'bullmq';
import { eq } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { rowToResult } from '../db/generation-repository.ts';
import { workflowGenerations } from '../db/schema.ts';
import type { GenerationResult, HandoverResult } from '../shared/generation-result.ts';
import { parseRequestFailure } from '../shared/failures.ts';
import { fallbackJobId, stepJobId, type GenerationRequest } from '../shared/jobs.ts';
import { MAX_FALLBACK_CHAIN } from '../shared/settings.ts';
import { isValidationFailure, type HandoverReason } from '../shared/outcomes.ts';
import type { ApiStatus, Stage } from './schemas.ts';

export type StageEvent =
  | { readonly stage: 'queued' }
  | { readonly stage: 'primary_started' }
  | { readonly stage: 'validating'; readonly role: 'primary' | 'fallback'; readonly model: string | null }
  | { readonly stage: 'fallback_enqueued'; readonly reason: HandoverReason | null; readonly fallbackJobId: string }
  | { readonly stage: 'fallback_started'; readonly model: string | null }
  | { readonly stage: 'finished'; readonly status: Exclude<ApiStatus, 'queued' | 'active'>; readonly result: GenerationResult | null; readonly error: string | null };

/** Position of a stage in the pipeline: the event stream sends each rank at most once, in order. */
export function stageRank(e: StageEvent): number {
  switch (e.stage) {
    case 'queued':
      return 0;
    case 'primary_started':
      return 1;
    case 'validating':
      return e.role === 'primary' ? 2 : 5;
    case 'fallback_enqueued':
      return 3;
    case 'fallback_started':
      return 4;
    case 'finished':
      return 6;
  }
}

export interface GenerationStatusView {
  readonly id: string;
  readonly status: ApiStatus;
  readonly stage: Stage;
  readonly queue: 'primary' | 'fallback' | null;
  readonly fallbackJobId: string | null;
  readonly fallbackReason: HandoverReason | null;
  readonly result: GenerationResult | null;
  readonly error: string | null;
  readonly timings: {
    readonly enqueuedAt: string | null;
    readonly startedAt: string | null;
    readonly finishedAt: string | null;
    readonly generationTimeMs: number | null;
  };
}

export interface GenerationSnapshot {
  readonly view: GenerationStatusView;
  /** The stages passed so far, oldest first, as far as the stored state tells them. */
  readonly history: readonly StageEvent[];
}

type Row = typeof workflowGenerations.$inferSelect;

interface Progress {
  readonly stage?: string;
  readonly role?: 'primary' | 'fallback';
  readonly model?: string;
  readonly reason?: HandoverReason;
  readonly result?: GenerationResult;
}

const WAITING_STATES = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children', 'wait', 'paused']);

const iso = (v: Date | number | null | undefined): string | null => (v === null || v === undefined ? null : new Date(v).toISOString());

function progressOf(job: Job | undefined): Progress {
  const p = job?.progress;
  return p !== null && typeof p === 'object' ? (p as Progress) : {};
}

function isHandover(v: unknown): v is HandoverResult {
  return v !== null && typeof v === 'object' && (v as { status?: unknown }).status === 'handed_over';
}

function isResult(v: unknown): v is GenerationResult {
  return v !== null && typeof v === 'object' && typeof (v as { status?: unknown }).status === 'string' && (v as { status: string }).status !== 'handed_over';
}

export class GenerationStatusReader {
  private readonly db: Database;
  private readonly primary: Queue;
  private readonly fallback: Queue;

  constructor(
    db: Database,
    primary: Queue,
    fallback: Queue,
  ) {
    this.db = db;
    this.primary = primary;
    this.fallback = fallback;
  }

  private async row(id: string): Promise<Row | undefined> {
    const rows = await this.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, id));
    return rows[0];
  }

  /**
   * The ladder step whose job carries a handed-over request now: the first fallback step, or, while
   * a step's job has completed by handing over to the next, the next one (up to the longest chain).
   */
  private async currentStep(id: string, job: Job | undefined, state: string): Promise<{ job: Job | undefined; state: string; jobId: string }> {
    let current = { job, state, jobId: fallbackJobId(id) };
    for (let step = 2; step <= MAX_FALLBACK_CHAIN && current.state === 'completed' && isHandover(current.job?.returnvalue); step += 1) {
      const jobId = stepJobId(id, step);
      const next = await jobAt(this.fallback, jobId);
      if (!next.job) break;
      current = { ...next, jobId };
    }
    return current;
  }

  /** The request as first submitted (job data or stored row), for idempotency checks; undefined when unknown. */
  async submittedRequest(id: string): Promise<{ request: unknown } | undefined> {
    const job = await this.primary.getJob(id);
    if (job) return { request: job.data as GenerationRequest };
    const row = await this.row(id);
    return row ? { request: row.request } : undefined;
  }

  /** Null when neither a row nor a job knows the id. */
  async read(id: string): Promise<GenerationSnapshot | null> {
    const row = await this.row(id);
    if (row && row.status !== 'queued') return finishedSnapshot(id, rowToResult(row), null, row);

    const { job: primaryJob, state: pState } = await jobAt(this.primary, id);
    const { job: firstStepJob, state: firstStepState } = await jobAt(this.fallback, fallbackJobId(id));
    // Past the first fallback step, the ladder's later steps carry the request: follow the hand-overs.
    const { job: fallbackJob, state: fState, jobId: fbId } = await this.currentStep(id, firstStepJob, firstStepState);
    if (!primaryJob && !fallbackJob && !row) return null;

    const enqueuedAt = iso(row?.enqueuedAt ?? primaryJob?.timestamp ?? null);
    const startedAt = iso(row?.startedAt ?? primaryJob?.processedOn ?? null);
    const history: StageEvent[] = [{ stage: 'queued' }];
    const timings = (finishedAt: number | null | undefined = null) => ({ enqueuedAt, startedAt, finishedAt: iso(finishedAt), generationTimeMs: null });

    // The primary job: queued, running, finished, or handed over.
    const pProgress = progressOf(primaryJob);
    let handover: HandoverResult | null = null;
    if (primaryJob && pState === 'completed') {
      const rv = primaryJob.returnvalue as unknown;
      if (isHandover(rv)) handover = rv;
      else if (isResult(rv)) return finishedSnapshot(id, rv, null, row, primaryJob);
    }
    if (primaryJob && pState === 'failed') return failedSnapshot(id, primaryJob, row);
    // The producer writes the row at acceptance: only its pick-up time says a worker has it.
    const pickedUp = (row?.startedAt ?? null) !== null || (primaryJob?.processedOn ?? 0) > 0 || handover !== null || fallbackJob !== undefined;
    if (!handover && !fallbackJob) {
      if (!pickedUp) return { view: { id, status: 'queued', stage: 'queued', queue: 'primary', fallbackJobId: null, fallbackReason: null, result: null, error: null, timings: timings() }, history };
      history.push({ stage: 'primary_started' });
      if (pProgress.stage === 'validating') history.push({ stage: 'validating', role: 'primary', model: pProgress.model ?? null });
      const stage = history.at(-1)!.stage;
      return { view: { id, status: 'active', stage, queue: 'primary', fallbackJobId: null, fallbackReason: null, result: null, error: null, timings: timings() }, history };
    }

    // Handed over: the fallback job carries the request from here.
    // The first step's data says why the primary handed over; the current step's, which model it calls.
    const firstData = (firstStepJob?.data ?? {}) as { reason?: HandoverReason; primaryModel?: string };
    const fbData = (fallbackJob?.data ?? {}) as { fallbackModel?: string };
    const reason = handover?.reason ?? firstData.reason ?? (pProgress.stage === 'fallback_enqueued' ? (pProgress.reason ?? null) : null);
    history.push({ stage: 'primary_started' });
    if (reason !== null && isValidationFailure(reason)) history.push({ stage: 'validating', role: 'primary', model: firstData.primaryModel ?? row?.primaryModel ?? null });
    history.push({ stage: 'fallback_enqueued', reason, fallbackJobId: fallbackJobId(id) });
    if (fallbackJob) {
      if (fState === 'completed' && isResult(fallbackJob.returnvalue)) return finishedSnapshot(id, fallbackJob.returnvalue as GenerationResult, null, row, fallbackJob);
      if (fState === 'failed') return failedSnapshot(id, fallbackJob, row);
      const fProgress = progressOf(fallbackJob);
      const started = fState === 'active' || fProgress.stage === 'fallback_started' || fProgress.stage === 'validating';
      if (started) history.push({ stage: 'fallback_started', model: fbData.fallbackModel ?? fProgress.model ?? null });
      if (fProgress.stage === 'validating') history.push({ stage: 'validating', role: 'fallback', model: fProgress.model ?? null });
      if (!started && !WAITING_STATES.has(fState) && fState !== 'unknown') history.push({ stage: 'fallback_started', model: fbData.fallbackModel ?? null });
    }
    const stage = history.at(-1)!.stage;
    return { view: { id, status: 'active', stage, queue: 'fallback', fallbackJobId: fbId, fallbackReason: reason, result: null, error: null, timings: timings() }, history };
  }
}

/**
 * A job with its state, the state read first: a job's data (progress, return value) is written
 * before it moves on, so data read after the state is at least as new as the state. The other way
 * round, a job that finished between the two reads would look finished without its result.
 */
async function jobAt(queue: Queue, id: string): Promise<{ job: Job | undefined; state: string }> {
  const state = await queue.getJobState(id);
  if (state === 'unknown') return { job: undefined, state };
  const job = await queue.getJob(id);
  return job ? { job, state } : { job: undefined, state: 'unknown' };
}

/** The stages a finished request passed, read back from its result. */
function finishedHistory(result: GenerationResult | null): StageEvent[] {
  const history: StageEvent[] = [{ stage: 'queued' }];
  if (!result || result.status === 'rejected') return history;
  history.push({ stage: 'primary_started' });
  const reason = result.fallback_reason;
  if (reason === null) {
    if (result.validation_passed !== null) history.push({ stage: 'validating', role: 'primary', model: result.generator_used ?? result.primary_model });
    return history;
  }
  if (isValidationFailure(reason)) history.push({ stage: 'validating', role: 'primary', model: result.primary_model });
  history.push({ stage: 'fallback_enqueued', reason, fallbackJobId: fallbackJobId(result.job_id) });
  history.push({ stage: 'fallback_started', model: result.generator_used });
  if (result.validation_passed !== null) history.push({ stage: 'validating', role: 'fallback', model: result.generator_used });
  return history;
}

function finishedSnapshot(id: string, result: GenerationResult, error: string | null, row: Row | undefined, job?: Job): GenerationSnapshot {
  const status = result.status;
  const history = finishedHistory(result);
  history.push({ stage: 'finished', status, result, error });
  return {
    view: {
      id,
      status,
      stage: 'finished',
      queue: null,
      fallbackJobId: result.fallback_reason !== null ? fallbackJobId(id) : null,
      fallbackReason: result.fallback_reason,
      result,
      error,
      timings: {
        enqueuedAt: iso(row?.enqueuedAt ?? null),
        startedAt: iso(row?.startedAt ?? job?.processedOn ?? null),
        finishedAt: iso(row?.finishedAt ?? job?.finishedOn ?? null),
        generationTimeMs: result.generation_time_ms,
      },
    },
    history,
  };
}

/** A failed job: its result is in the last progress report, unless it failed on infrastructure. */
function failedSnapshot(id: string, job: Job, row: Row | undefined): GenerationSnapshot {
  const p = progressOf(job);
  if (p.stage === 'finished' && p.result && isResult(p.result)) return finishedSnapshot(id, p.result, null, row, job);
  const error = parseRequestFailure(job.failedReason)?.message ?? (job.failedReason || 'the job failed without a result');
  const history: StageEvent[] = [{ stage: 'queued' }, { stage: 'finished', status: 'failed', result: null, error }];
  return {
    view: {
      id,
      status: 'failed',
      stage: 'finished',
      queue: null,
      fallbackJobId: null,
      fallbackReason: null,
      result: null,
      error,
      timings: { enqueuedAt: iso(row?.enqueuedAt ?? job.timestamp), startedAt: iso(row?.startedAt ?? job.processedOn ?? null), finishedAt: iso(job.finishedOn ?? null), generationTimeMs: null },
    },
    history,
  };
}
