/**
 * The generation processors BullMQ calls: one for the primary queue, one for the fallback
 * queue. Both run the same policy: contract check, resume from what is already recorded, one
 * model attempt per run, then finish, hand over to the fallback, or retry later.
 */
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { AttemptRecord, FinalOutcome, GenerationRepository } from '../db/generation-repository.ts';
import { isTransientDbError } from '../db/transient-errors.ts';
import { coerceError, InvalidRequestError, type FieldError, RequestRowMissingError } from '../shared/errors.ts';
import { OutputInvalidError, RequestFailedError, type RequestEndedError, RequestRejectedError } from '../shared/failures.ts';
import { storableText } from '../shared/storable-text.ts';
import type { GenerationResult, HandoverResult } from '../shared/generation-result.ts';
import type { Logger } from '../shared/logger.ts';
import type { ModelSpec } from '../shared/models.ts';
import { type AttemptRole, type FailureReason, isValidationFailure, REJECTION_REASONS, REQUEST_FAILURE_REASONS, TRANSIENT_OUTCOMES } from '../shared/outcomes.ts';
import { type FallbackJobData, fallbackJobId, GENERATE_FALLBACK_JOB as GENERATE_FALLBACK_JOB_NAME, type GenerationRequest, isValidJobId, JOB_ID_RULE, parseFallbackJobData, parseGenerationRequest } from '../shared/jobs.ts';
import { resolveSettings, type OrchestratorSettings, type ResolvedSettings } from '../shared/settings.ts';
import type { AttemptResult, AttemptRunner } from './attempt-runner.ts';
import type { Clock } from './clock.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { ModelPauses, PauseCheck } from './model-pauses.ts';
import type { SettingsSource } from './settings-source.ts';

export interface FallbackEnqueuer {
  /** Adds the fallback-tagged job; adding the same id twice adds nothing. */
  enqueue(jobId: string, data: FallbackJobData): Promise<void>;
}

export interface RetryPolicy {
  /** An optional cap on calls of the last-resort model per request; 0: none, retry until the deadline. */
  readonly finalModelMaxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface GenerationProcessorDeps {
  readonly attempts: AttemptRunner;
  readonly settings: SettingsSource;
  readonly repo: GenerationRepository;
  readonly pauses: ModelPauses;
  readonly fallback: FallbackEnqueuer;
  readonly metrics: WorkerMetrics;
  readonly clock: Clock;
  readonly log: Logger;
  readonly retry: RetryPolicy;
  /** Aborted when the grace period of a shutdown runs out: in-flight calls stop, jobs go back. */
  readonly shutdownSignal: AbortSignal;
  /** Aborted when a shutdown starts: a job fetched after that goes straight back to the queue. */
  readonly stoppingSignal?: AbortSignal;
  /** Random source for jitter, in [0, 1). */
  readonly random?: () => number;
  /** How long repository calls keep retrying while the database is unreachable. */
  readonly dbRetry?: DbRetryPolicy;
  /** The deadline of a request without `deadlineMs`, from its enqueue (default DEFAULT_DEADLINE_MS). */
  readonly defaultDeadlineMs?: number;
}

export interface DbRetryPolicy {
  /** Give up (and let BullMQ retry the job) after this long. */
  readonly maxWaitMs: number;
  readonly baseDelayMs: number;
}

const DEFAULT_DB_RETRY: DbRetryPolicy = { maxWaitMs: 30_000, baseDelayMs: 100 };

/** Every repository method, retried with backoff on connection errors only. */
function retryingRepository(repo: GenerationRepository, policy: DbRetryPolicy, log: Logger, random: () => number): GenerationRepository {
  const retry = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await run();
      } catch (err) {
        const waited = Date.now() - started;
        if (!isTransientDbError(err) || waited >= policy.maxWaitMs) throw err;
        const delayMs = Math.min(2_000, policy.baseDelayMs * 2 ** attempt) * (0.5 + random() * 0.5);
        if (attempt === 0) log.warn({ op: name, err: err instanceof Error ? err.message : String(err) }, 'database unreachable; retrying the write');
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  };
  return {
    begin: (i) => retry('begin', () => repo.begin(i)),
    recordAttempt: (a) => retry('recordAttempt', () => repo.recordAttempt(a)),
    recordHandover: (a, h) => retry('recordHandover', () => repo.recordHandover(a, h)),
    finish: (o, a) => retry('finish', () => repo.finish(o, a)),
    reject: (i) => retry('reject', () => repo.reject(i)),
    findResult: (id) => retry('findResult', () => repo.findResult(id)),
  };
}

/** What a job ends with; failures end as UnrecoverableError with the code first in the message. */
export type ProcessorResult = GenerationResult | HandoverResult;

const DEFAULT_PAUSE_MS = 1_000;

/** Stalls (a worker died holding the job) before a job is failed as poison; BullMQ's own limit sits above. */
export const MAX_STALLS = 3;

const { storageRefused: STORAGE_REFUSED, deadlineExceeded: DEADLINE_EXCEEDED } = REQUEST_FAILURE_REASONS;
/** A request's deadline when neither it nor the deployment names one. */
export const DEFAULT_DEADLINE_MS = 600_000;


interface RequestContext {
  readonly job: Job;
  readonly token: string | undefined;
  readonly originJobId: string;
  readonly request: GenerationRequest;
  readonly settings: ResolvedSettings;
  readonly snapshot: OrchestratorSettings;
  /** When the request was enqueued, and when this run picked it up: for writing its row again. */
  readonly enqueuedAt: number;
  readonly pickedUpAt: Date;
  /** The pause check started alongside `begin`, for the model this run expects to call. */
  readonly admission: PauseCheck | null;
  /** When the request must be finished (epoch ms): its enqueue plus its deadlineMs. */
  readonly deadlineAt: number;
  readonly log: Logger;
}

export function createGenerationProcessor(input: GenerationProcessorDeps) {
  const random = input.random ?? Math.random;
  // A result already paid for must not be lost to a database blip: writes wait the outage out.
  const deps = { ...input, repo: retryingRepository(input.repo, input.dbRetry ?? DEFAULT_DB_RETRY, input.log, random) };

  async function endWith(ctx: Pick<RequestContext, 'job'>, result: GenerationResult): Promise<GenerationResult> {
    if (result.status === 'succeeded') return result;
    // Callers read the details of a failed request from the job's last progress report.
    await ctx.job.updateProgress({ stage: 'finished', result });
    throw endedJob(failureOf(result));
  }

  async function reject(job: Job, err: InvalidRequestError): Promise<never> {
    const data = (job.data ?? {}) as Record<string, unknown>;
    const id = (v: unknown) => (typeof v === 'string' && v.length <= 128 && !v.includes('\u0000') ? v : null);
    const result = await deps.repo.reject({
      jobId: storableText(job.id!),
      userId: id(data.userId),
      agentId: id(data.agentId),
      request: previewOf(job.data),
      errors: err.errors,
      enqueuedAt: new Date(job.timestamp),
      finishedAt: new Date(deps.clock.now()),
    });
    deps.metrics.recordFinal('rejected', null, 'none', null);
    deps.log.warn({ jobId: job.id, errors: err.errors.slice(0, 5) }, 'rejected a job that breaks the contract');
    return (await endWith({ job }, result)) as never;
  }

  /** Puts the job back in the queue until `untilMs` without counting an attempt. */
  async function delayUntil(job: Job, token: string | undefined, untilMs: number): Promise<never> {
    await job.moveToDelayed(Math.ceil(untilMs), token);
    throw new DelayedError();
  }

  function attemptRecord(ctx: RequestContext, role: AttemptRole, number: number, r: AttemptResult): AttemptRecord {
    return {
      jobId: ctx.originJobId,
      attemptNumber: number,
      model: r.model.id,
      provider: r.model.provider,
      role,
      outcome: r.outcome,
      validationErrors: r.validationErrors,
      errorMessage: r.errorMessage,
      httpStatus: r.httpStatus,
      retryAfterMs: r.retryAfterMs,
      usage: r.usage,
      cost: r.cost,
      pricing: r.model.pricing,
      latencyMs: r.latencyMs,
      settings: ctx.snapshot,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    };
  }

  /**
   * Runs a write that needs the request's row. The row written at pick-up is committed without
   * waiting for the disk (see BEGIN_SQL), so a database crash just after it can lose it: then
   * this run writes it again, with the settings and pick-up time it holds, and repeats the write.
   */
  async function withRequestRow<T>(ctx: RequestContext, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof RequestRowMissingError)) throw err;
      ctx.log.warn('the request row written at pick-up is missing (lost in a database crash?); writing it again');
      await deps.repo.begin({
        jobId: ctx.originJobId,
        userId: ctx.request.userId,
        agentId: ctx.request.agentId,
        request: ctx.request,
        settings: ctx.snapshot,
        enqueuedAt: new Date(ctx.enqueuedAt),
        startedAt: ctx.pickedUpAt,
      });
      return write();
    }
  }

  /** Waits out a model's pause in the delayed set, so the slot serves other jobs meanwhile. */
  async function respectPause(ctx: RequestContext, model: ModelSpec): Promise<void> {
    const left = ctx.admission?.modelId === model.id ? await ctx.admission.remainingMs() : await deps.pauses.remainingMs(model.id);
    if (left > 0) {
      // Waiting jobs come back spread over a window as long as the pause (within bounds), so the
      // vendor sees a trickle when it ends, not every waiting job in the same millisecond; if
      // the first ones are refused again, the rest find the new pause.
      const spread = Math.min(5_000, Math.max(250, left));
      // Never past the deadline: the job wakes up then and ends as deadline_exceeded.
      await delayUntil(ctx.job, ctx.token, Math.min(ctx.deadlineAt, deps.clock.now() + left + random() * spread));
    }
  }

  async function attempt(ctx: RequestContext, role: AttemptRole, model: ModelSpec, number: number): Promise<AttemptResult> {
    await respectPause(ctx, model);
    // Built only when something is logged: a pino child serialises (and redacts) its bindings,
    // and the fast path logs nothing at info.
    const log = () => ctx.log.child({ attempt: number, model: model.id, role });
    const onAnswer = () => {
      // Progress for watchers (the HTTP API's event stream); not awaited: it must not slow the job.
      ctx.job.updateProgress({ stage: 'validating', role, model: model.id }).catch(() => {});
    };
    // A call never outlasts the request's deadline.
    const r = await deps.attempts.run(model, ctx.request, deps.shutdownSignal, onAnswer, ctx.deadlineAt - deps.clock.now());
    if (r.aborted) {
      log().info('model call aborted by shutdown; returning the job to the queue');
      await delayUntil(ctx.job, ctx.token, deps.clock.now());
    }
    deps.metrics.recordAttempt(role, r);
    if (r.outcome === 'rate_limit') {
      // Best effort: the answered call must reach the ledger first, and a pause not written only
      // costs another 429 (recorded too), where a throw here would lose this attempt's record.
      try {
        await deps.pauses.pause(model.id, r.retryAfterMs ?? DEFAULT_PAUSE_MS);
        deps.metrics.recordPause(model.id);
      } catch (err) {
        log().warn({ err: coerceError(err).message }, 'could not record the model pause');
      }
    }
    if (r.outcome === 'auth_error') log().error({ httpStatus: r.httpStatus, err: r.errorMessage }, 'model call refused the credentials: check the API key variable and base URL of the catalog row');
    else if (r.outcome === 'model_unavailable' || r.outcome === 'quota_exhausted') log().error({ outcome: r.outcome, httpStatus: r.httpStatus, err: r.errorMessage }, 'model cannot serve any request (retired, unknown, or out of quota): handing over, never retried on it');
    else if (r.outcome !== 'ok') log().warn({ outcome: r.outcome, httpStatus: r.httpStatus, err: r.errorMessage }, 'model attempt failed');
    else if (deps.log.isLevelEnabled('debug')) log().debug({ latencyMs: Math.round(r.latencyMs) }, 'model attempt succeeded');
    return r;
  }

  /**
   * Finishes with the attempt just paid for. When the database refuses the result (not an
   * outage: a constraint, text it cannot store), the attempt is recorded with a failure instead:
   * a job retried by BullMQ would call the model again, and nothing would record either call.
   */
  async function finishRecording(ctx: RequestContext, record: AttemptRecord | null, outcome: FinalOutcome): Promise<GenerationResult> {
    try {
      return await withRequestRow(ctx, () => deps.repo.finish(outcome, record));
    } catch (err) {
      if (isTransientDbError(err) || err instanceof RequestRowMissingError) throw err;
      const message = coerceError(err).message;
      ctx.log.error({ err: message }, 'the database refused the result; recording the attempt and a failure instead');
      const refused: FinalOutcome = { ...outcome, status: 'failed', workflow: null, stepsGenerated: 0, generatorUsed: null, validationPassed: null, failureReason: `${STORAGE_REFUSED}: ${message}` };
      try {
        return await withRequestRow(ctx, () => deps.repo.finish(refused, record));
      } catch (again) {
        if (isTransientDbError(again)) throw again;
        // Refused twice: end the job here; another run would pay for another call.
        throw endedJob(new RequestFailedError(STORAGE_REFUSED, `${STORAGE_REFUSED}: ${coerceError(again).message}`, { cause: again }));
      }
    }
  }

  async function finishFromAttempt(
    ctx: RequestContext,
    role: AttemptRole,
    model: ModelSpec,
    fallbackReason: FailureReason | null,
    r: Pick<AttemptResult, 'outcome' | 'workflow' | 'stepCount' | 'validationErrors' | 'errorMessage'>,
    record: AttemptRecord | null,
  ): Promise<GenerationResult> {
    const ok = r.outcome === 'ok';
    const invalid = isValidationFailure(r.outcome);
    const status = ok ? 'succeeded' : invalid ? 'invalid' : 'failed';
    const result = await finishRecording(ctx, record, {
        jobId: ctx.originJobId,
        userId: ctx.request.userId,
        agentId: ctx.request.agentId,
        status,
        workflow: r.workflow,
        stepsGenerated: r.stepCount,
        generatorUsed: ok || invalid ? model.id : null,
        primaryModel: ctx.settings.primaryModel,
        fallbackModel: ctx.settings.enableFallback ? ctx.settings.fallbackModel : null,
        fallbackReason,
        validationPassed: ok ? true : invalid ? false : null,
        validationErrors: r.validationErrors,
        failureReason: ok ? null : invalid ? r.outcome : `${r.outcome}${r.errorMessage ? `: ${r.errorMessage}` : ''}`,
        finishedAt: new Date(deps.clock.now()),
      });
    deps.metrics.recordFinal(result.status, result.generator_used, role, result.generation_time_ms);
    return endWith(ctx, result);
  }

  async function handOver(ctx: RequestContext, reason: FailureReason, record: AttemptRecord | null): Promise<HandoverResult> {
    const h = { jobId: ctx.originJobId, userId: ctx.request.userId, agentId: ctx.request.agentId, primaryModel: ctx.settings.primaryModel, fallbackModel: ctx.settings.fallbackModel, reason };
    if (record) await withRequestRow(ctx, () => deps.repo.recordHandover(record, h));
    const id = fallbackJobId(ctx.originJobId);
    await deps.fallback.enqueue(id, {
      originJobId: ctx.originJobId,
      request: ctx.request,
      reason,
      primaryModel: ctx.settings.primaryModel,
      fallbackModel: ctx.settings.fallbackModel,
      enqueuedAt: ctx.job.timestamp,
      handedOverAt: deps.clock.now(),
    });
    if (record) deps.metrics.recordFallback(ctx.settings.primaryModel, ctx.settings.fallbackModel, reason);
    ctx.log.warn({ reason, fallbackJobId: id }, 'handed over to the fallback model');
    await ctx.job.updateProgress({ stage: 'fallback_enqueued', reason, fallback_job_id: id }).catch(() => {});
    return { job_id: ctx.originJobId, status: 'handed_over', fallback_job_id: id, reason };
  }

  /**
   * The last-resort model of a request (the fallback, or the primary when fallback is off):
   * transient failures retry with backoff and jitter, waiting in the delayed set, until the
   * request's deadline (or the optional attempt cap); anything else is final.
   */
  async function runFinalModel(ctx: RequestContext, role: AttemptRole, model: ModelSpec, fallbackReason: FailureReason | null, previous: readonly AttemptRecord[], nextNumber: number): Promise<GenerationResult> {
    const mine = previous.filter((a) => a.role === role);
    const last = mine.at(-1);
    if (last && (capReached(mine.length) || !isTransient(last))) {
      // A crash came between recording the last attempt and finishing: finish from the record.
      return finishFromAttempt(ctx, role, model, fallbackReason, { outcome: last.outcome, workflow: null, stepCount: 0, validationErrors: last.validationErrors, errorMessage: last.errorMessage }, null);
    }
    if (deps.clock.now() >= ctx.deadlineAt) return finishDeadlineExceeded(ctx, role, fallbackReason, previous.length, null);
    const r = await attempt(ctx, role, model, nextNumber);
    const record = attemptRecord(ctx, role, nextNumber, r);
    const tries = mine.length + 1;
    if (isTransient(r) && !capReached(tries)) {
      const now = deps.clock.now();
      if (now >= ctx.deadlineAt) return finishDeadlineExceeded(ctx, role, fallbackReason, previous.length + 1, record);
      await withRequestRow(ctx, () => deps.repo.recordAttempt(record));
      const backoff = Math.min(deps.retry.maxDelayMs, deps.retry.baseDelayMs * 2 ** Math.min(tries - 1, 30));
      // Full jitter; a vendor's retry-after is a floor, never shortened; the deadline a ceiling.
      const delay = Math.max(r.retryAfterMs ?? 0, backoff * (0.5 + random() * 0.5));
      ctx.log.info({ outcome: r.outcome, retryInMs: Math.round(delay), tries }, 'retrying the last-resort model later');
      return delayUntil(ctx.job, ctx.token, Math.min(ctx.deadlineAt, now + delay));
    }
    return finishFromAttempt(ctx, role, model, fallbackReason, r, record);
  }

  function capReached(tries: number): boolean {
    return deps.retry.finalModelMaxAttempts > 0 && tries >= deps.retry.finalModelMaxAttempts;
  }

  /** The deadline passed while transient failures were retried: failed, with every attempt recorded. */
  async function finishDeadlineExceeded(ctx: RequestContext, role: AttemptRole, fallbackReason: FailureReason | null, attempts: number, record: AttemptRecord | null): Promise<GenerationResult> {
    const deadlineMs = ctx.deadlineAt - ctx.enqueuedAt;
    const result = await finishRecording(ctx, record, {
      jobId: ctx.originJobId,
      userId: ctx.request.userId,
      agentId: ctx.request.agentId,
      status: 'failed',
      workflow: null,
      stepsGenerated: 0,
      generatorUsed: null,
      primaryModel: ctx.settings.primaryModel,
      fallbackModel: ctx.settings.enableFallback ? ctx.settings.fallbackModel : null,
      fallbackReason,
      validationPassed: null,
      validationErrors: null,
      failureReason: `${DEADLINE_EXCEEDED}: the request's deadline of ${deadlineMs} ms passed after ${attempts} attempt${attempts === 1 ? '' : 's'}`,
      finishedAt: new Date(deps.clock.now()),
    });
    deps.metrics.recordFinal(result.status, null, role, result.generation_time_ms);
    ctx.log.warn({ deadlineMs, attempts }, 'deadline exceeded');
    return endWith(ctx, result);
  }

  async function begin(job: Job, originJobId: string, request: GenerationRequest, enqueuedAt: number) {
    const snapshot = deps.settings.current();
    const begun = await deps.repo.begin({
      jobId: originJobId,
      userId: request.userId,
      agentId: request.agentId,
      request,
      settings: { primaryModel: snapshot.primaryModel, fallbackModel: snapshot.fallbackModel, enableFallback: snapshot.enableFallback },
      enqueuedAt: new Date(enqueuedAt),
      startedAt: new Date(deps.clock.now()),
    });
    return begun;
  }

  function contextFor(job: Job, token: string | undefined, originJobId: string, request: GenerationRequest, enqueuedAt: number, stored: OrchestratorSettings, admission: PauseCheck | null = null): RequestContext {
    let log: Logger | undefined;
    return {
      job,
      token,
      originJobId,
      request,
      settings: resolveSettings(stored, deps.settings.current().catalog),
      snapshot: { primaryModel: stored.primaryModel, fallbackModel: stored.fallbackModel, enableFallback: stored.enableFallback },
      enqueuedAt,
      pickedUpAt: new Date(deps.clock.now()),
      admission,
      deadlineAt: enqueuedAt + (request.deadlineMs ?? deps.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS),
      // On first use only, like the attempt's: most jobs log nothing.
      get log() {
        return (log ??= deps.log.child({ jobId: originJobId, queueJobId: job.id }));
      },
    };
  }

  /** BullMQ may hand a closing worker one more job (its blocking fetch wakes up): give it back. */
  async function returnIfStopping(job: Job, token: string | undefined): Promise<void> {
    if (deps.stoppingSignal?.aborted) await delayUntil(job, token, deps.clock.now());
  }

  /** A job whose worker died on it MAX_STALLS times is not given to a fourth. */
  async function failIfPoison(job: Job): Promise<void> {
    if ((job.stalledCounter ?? 0) >= MAX_STALLS) {
      const reason = `its worker died ${job.stalledCounter} times while processing it`;
      await recordAbandoned(job, reason);
      throw endedJob(new RequestFailedError(REQUEST_FAILURE_REASONS.abandoned, `${REQUEST_FAILURE_REASONS.abandoned}: ${reason}`));
    }
  }

  async function processPrimary(job: Job, token?: string): Promise<ProcessorResult> {
    await returnIfStopping(job, token);
    await failIfPoison(job);
    let request: GenerationRequest;
    try {
      request = parseGenerationRequest(job.data);
      // A raw BullMQ client can pick any id; the id rule is the contract's too (shared/jobs.ts).
      if (!isValidJobId(job.id)) throw new InvalidRequestError([{ path: '', code: 'job_id', message: `the job id must be ${JOB_ID_RULE}` }]);
    } catch (err) {
      if (err instanceof InvalidRequestError) return reject(job, err);
      throw err;
    }
    const originJobId = job.id;
    // The pause check (and pacing turn) of the primary the settings name now runs alongside
    // `begin`: one round trip less before the call. When the request needs another model or no
    // call (settings fixed earlier, a replay), it is released unused, and the call it counted
    // is taken back.
    const primaryNow = safe(() => deps.settings.current().primary.id);
    const admission = primaryNow ? deps.pauses.checkAhead(primaryNow) : null;
    return releasingAfter(admission, () => runPrimary(job, token, originJobId, request, admission));
  }

  /** Runs the job, then releases its pause check (a no-op when the call used it). */
  async function releasingAfter<T>(admission: PauseCheck | null, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } finally {
      void admission?.release();
    }
  }

  async function runPrimary(job: Job, token: string | undefined, originJobId: string, request: GenerationRequest, admission: PauseCheck | null): Promise<ProcessorResult> {
    const begun = await begin(job, originJobId, request, job.timestamp);
    if (begun.final) return endWith({ job }, begun.final);
    const ctx = contextFor(job, token, originJobId, request, job.timestamp, begun.settings, admission);
    const nextNumber = (begun.attempts.at(-1)?.attemptNumber ?? 0) + 1;
    if (!ctx.settings.enableFallback) return runFinalModel(ctx, 'primary', ctx.settings.primary, null, begun.attempts, nextNumber);
    // Waited in the queue past its deadline: no call.
    if (begun.attempts.length === 0 && deps.clock.now() >= ctx.deadlineAt) return finishDeadlineExceeded(ctx, 'primary', null, 0, null);

    const recorded = begun.attempts.find((a) => a.role === 'primary');
    if (recorded && recorded.outcome !== 'ok') {
      // The primary already failed and was recorded; only the hand-over is left to do.
      return handOver(ctx, recorded.outcome as FailureReason, null);
    }
    const r = await attempt(ctx, 'primary', ctx.settings.primary, nextNumber);
    const record = attemptRecord(ctx, 'primary', nextNumber, r);
    if (r.outcome === 'ok') return finishFromAttempt(ctx, 'primary', ctx.settings.primary, null, r, record);
    return handOver(ctx, r.outcome, record);
  }

  async function processFallback(job: Job, token?: string): Promise<ProcessorResult> {
    await returnIfStopping(job, token);
    await failIfPoison(job);
    let data: FallbackJobData;
    try {
      data = parseFallbackJobData(job.data);
    } catch (err) {
      // Only the worker writes fallback jobs: bad data is a bug, and retrying cannot fix it.
      throw endedJob(new RequestRejectedError(REJECTION_REASONS.malformedJob, `malformed fallback job: ${coerceError(err).message}`, { cause: err }));
    }
    const admission = deps.pauses.checkAhead(data.fallbackModel);
    return releasingAfter(admission, async () => {
      const begun = await begin(job, data.originJobId, data.request, data.enqueuedAt);
      if (begun.final) return endWith({ job }, begun.final);
      const ctx = contextFor(job, token, data.originJobId, data.request, data.enqueuedAt, begun.settings, admission);
      // Not awaited (like 'validating'): the fallback call need not wait for a watcher's update;
      // later writes of this job go through the same connection, so the order is kept.
      job.updateProgress({ stage: 'fallback_started', model: ctx.settings.fallbackModel }).catch(() => {});
      const nextNumber = (begun.attempts.at(-1)?.attemptNumber ?? 0) + 1;
      return runFinalModel(ctx, 'fallback', ctx.settings.fallback, data.reason, begun.attempts, nextNumber);
    });
  }

  /**
   * A job BullMQ gave up on for reasons outside the policy (its retries for infrastructure errors
   * ran out, or its worker died on it too often): record a final failure, so the request is not
   * left `queued` with no final audit row. Idempotent, like every write here.
   */
  async function recordAbandoned(job: Job, reason: string): Promise<void> {
    const data = job.name === GENERATE_FALLBACK_JOB_NAME ? safe(() => parseFallbackJobData(job.data)) : null;
    const request = data?.request ?? safe(() => parseGenerationRequest(job.data));
    if (!request) return; // Bad data was rejected (and recorded) on pick-up.
    const originJobId = data?.originJobId ?? job.id!;
    const begun = await begin(job, originJobId, request, data?.enqueuedAt ?? job.timestamp);
    if (begun.final) return;
    const ctx = contextFor(job, undefined, originJobId, request, data?.enqueuedAt ?? job.timestamp, begun.settings);
    const result = await deps.repo.finish(
      {
        jobId: originJobId,
        userId: request.userId,
        agentId: request.agentId,
        status: 'failed',
        workflow: null,
        stepsGenerated: 0,
        generatorUsed: null,
        primaryModel: ctx.settings.primaryModel,
        fallbackModel: ctx.settings.enableFallback ? ctx.settings.fallbackModel : null,
        fallbackReason: data?.reason ?? null,
        validationPassed: null,
        validationErrors: null,
        failureReason: `${REQUEST_FAILURE_REASONS.abandoned}: ${reason}`,
        finishedAt: new Date(deps.clock.now()),
      },
      null,
    );
    deps.metrics.recordFinal(result.status, null, data ? 'fallback' : 'primary', result.generation_time_ms);
    ctx.log.error({ reason }, 'job abandoned by the queue; recorded as failed');
  }

  return { processPrimary, processFallback, recordAbandoned };
}

/**
 * Worth another try of the same model later. A 4xx other than 408, 409 and 429 is a request the
 * vendor will never accept, even though it is classified `api_error`: retrying it until the
 * deadline would only repeat the refusal.
 */
function isTransient(a: Pick<AttemptRecord, 'outcome' | 'httpStatus'>): boolean {
  if (!TRANSIENT_OUTCOMES.has(a.outcome)) return false;
  const s = a.httpStatus;
  return !(a.outcome === 'api_error' && s !== null && s >= 400 && s < 500 && s !== 408 && s !== 409);
}

/** The error a request's job fails with: unrecoverable (no BullMQ retry), its failure as data. */
function endedJob(failure: RequestEndedError): UnrecoverableError {
  return new UnrecoverableError(failure.failedReason);
}

/** The typed failure of a result that is not a success. */
function failureOf(result: GenerationResult): RequestEndedError {
  const why = result.failure_reason ?? result.status;
  if (result.status === 'invalid') return new OutputInvalidError(why, (result.validation_errors ?? []).length);
  // A failure reason starts with its closed-set word: `timeout: …`, `deadline_exceeded: …`.
  const reason = why.split(':', 1)[0]!;
  if (result.status === 'rejected') return new RequestRejectedError(REJECTION_REASONS.invalidRequest, why);
  return new RequestFailedError(reason, why);
}

function safe<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}

/** A bounded, storable copy of data that broke the contract (it may be huge or hold NUL bytes). */
function previewOf(data: unknown): { invalid: true; preview: string } {
  let text: string;
  try {
    text = JSON.stringify(data) ?? String(data);
  } catch {
    text = String(data);
  }
  return { invalid: true, preview: storableText(text.slice(0, 2_000)).replace(/\\u0000/g, '\uFFFD') };
}

export type { FieldError };
