/**
 * The generation processors BullMQ calls, one per queue: a small executor around the policy.
 * Each run checks the job, loads the request's history (`begin`), then asks the policy what to
 * do and does it (call a model, hand over, retry later, finish) until the run ends. Every
 * decision is the policy's (./policy.ts); this module performs and records them.
 */
import { type Job, UnrecoverableError } from 'bullmq';
import type { AttemptRecord, FinalOutcome, GenerationRepository } from '../../db/generation-repository.ts';
import { isTransientDbError } from '../../db/transient-errors.ts';
import { coerceError, InvalidRequestError, RequestRowMissingError } from '../../shared/errors.ts';
import { type RequestEndedError, RequestFailedError, RequestRejectedError } from '../../shared/failures.ts';
import type { GenerationResult, HandoverResult } from '../../shared/generation-result.ts';
import { type FallbackJobData, type GenerationRequest, isValidJobId, JOB_ID_RULE, JOBS, stepJobId } from '../../shared/jobs.ts';
import type { Logger } from '../../shared/logger.ts';
import { type CircuitDecision, circuitVerdict, type ModelCircuit, probeLeaseMs } from '../../shared/model-circuit.ts';
import type { ModelSpec } from '../../shared/models.ts';
import { type HandoverReason, isValidationFailure, REJECTION_REASONS, REQUEST_FAILURE_REASONS } from '../../shared/outcomes.ts';
import { storableText } from '../../shared/storable-text.ts';
import type { AttemptRunner } from '../attempt-runner.ts';
import type { Clock } from '../clock.ts';
import type { WorkerMetrics } from '../metrics.ts';
import type { ModelPauses, PauseCheck } from '../model-pauses.ts';
import type { SettingsSource } from '../settings-source.ts';
import type { UnrecordedAttempt, UnrecordedAttemptStore } from '../unrecorded-attempts.ts';
import { failureOf, finalOutcomeOf, historyOf } from './endings.ts';
import { type Finish, type History, type HistoryAttempt, ladderOf, nextStep, type RetryPolicy, type Step } from './policy.ts';
import { delayUntil } from './delay.ts';
import { worstCasePrice } from '../ladder-price.ts';
import { firstCallPrompt, type PromptCall, repairCallPrompt } from '../repair-prompt.ts';
import { callModel, contextFor, snapshotOf, type FreshAttempt, type RequestContext, type RequestOrigin } from './request-run.ts';

export type { RetryPolicy } from './policy.ts';

export interface FallbackEnqueuer {
  /** Adds the fallback-tagged job; adding the same id twice adds nothing. */
  enqueue(jobId: string, data: FallbackJobData): Promise<void>;
}

export interface GenerationProcessorDeps {
  readonly attempts: AttemptRunner;
  readonly settings: SettingsSource;
  /** Retries transient database errors itself (db/retrying-repository.ts): the one layer for them. */
  readonly repo: GenerationRepository;
  /** Where a paid attempt waits when the database cannot take it, for the request's next run (../unrecorded-attempts.ts). */
  readonly unrecorded: UnrecordedAttemptStore;
  readonly pauses: ModelPauses;
  /** Each model's circuit, shared by the replicas: a step whose model is down is skipped. Absent: never skipped. */
  readonly circuit?: ModelCircuit;
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
  /** The deadline of a request without `deadlineMs`, from its enqueue (default DEFAULT_DEADLINE_MS). */
  readonly defaultDeadlineMs?: number;
}

/** What a job ends with; failures end as UnrecoverableError carrying a typed failure (shared/failures.ts). */
export type ProcessorResult = GenerationResult | HandoverResult;

/** Stalls (a worker died holding the job) before a job is failed as poison; BullMQ's own limit sits above. */
export const MAX_STALLS = 3;


type Deps = GenerationProcessorDeps & { readonly random: () => number };

/** The attempt made last and not yet recorded by this run (or kept by an earlier one), with its answer when this run made it. */
type LastAttempt = UnrecordedAttempt & { readonly answer?: unknown };

export function createGenerationProcessor(input: GenerationProcessorDeps) {
  const deps: Deps = { ...input, random: input.random ?? Math.random };
  return {
    processPrimary: (job: Job, token?: string) => processPrimary(deps, job, token),
    processFallback: (job: Job, token?: string) => processFallback(deps, job, token),
    recordAbandoned: (job: Job, reason: string) => recordAbandoned(deps, job, reason),
  };
}

async function processPrimary(deps: Deps, job: Job, token?: string): Promise<ProcessorResult> {
  await returnIfStopping(deps, job, token);
  await failIfPoison(deps, job);
  let request: GenerationRequest;
  try {
    request = JOBS.generate.parse(job.data);
    // A raw BullMQ client can pick any id; the id rule is the contract's too (shared/jobs.ts).
    if (!isValidJobId(job.id)) throw new InvalidRequestError([{ path: '', code: 'job_id', message: `the job id must be ${JOB_ID_RULE}` }]);
  } catch (err) {
    if (err instanceof InvalidRequestError) return reject(deps, job, err);
    throw err;
  }
  // The pause check (and pacing turn) of the primary the settings name now runs alongside
  // `begin`: one round trip less before the call. When the request needs another model or no
  // call (settings fixed earlier, a replay), it is released unused, and the call it counted
  // is taken back.
  const primaryNow = safe(() => deps.settings.current().primary.id);
  const admission = primaryNow ? deps.pauses.checkAhead(primaryNow) : null;
  const origin: RequestOrigin = { originJobId: job.id, request, enqueuedAt: job.timestamp, step: 0, handedOverFor: null };
  return releasingAfter(admission, () => run(deps, job, token, origin, admission));
}

async function processFallback(deps: Deps, job: Job, token?: string): Promise<ProcessorResult> {
  await returnIfStopping(deps, job, token);
  await failIfPoison(deps, job);
  let data: FallbackJobData;
  try {
    data = JOBS.generateFallback.parse(job.data);
  } catch (err) {
    // Only the worker writes fallback jobs: bad data is a bug, and retrying cannot fix it.
    throw endedJob(new RequestRejectedError(REJECTION_REASONS.malformedJob, `malformed fallback job: ${coerceError(err).message}`, { cause: err }));
  }
  const admission = deps.pauses.checkAhead(data.fallbackModel);
  const origin: RequestOrigin = { originJobId: data.originJobId, request: data.request, enqueuedAt: data.enqueuedAt, step: data.step ?? 1, handedOverFor: data.reason };
  return releasingAfter(admission, () => run(deps, job, token, origin, admission));
}

/** Loads the history, then performs the policy's steps until one ends this run. */
async function run(deps: Deps, job: Job, token: string | undefined, origin: RequestOrigin, admission: PauseCheck | null): Promise<ProcessorResult> {
  const begun = await begin(deps, job, origin);
  if (begun.final) return endWith(job, begun.final);
  const ctx = contextFor(deps, job, token, origin, begun.settings, admission);
  // Not awaited (like 'validating'): the call need not wait for a watcher's update; later
  // writes of this job go through the same connection, so the order is kept.
  const ladder = ladderOf(ctx.settings, ctx.settings.catalog);
  if (origin.step > 0) job.updateProgress({ stage: 'fallback_started', model: ladder[origin.step]?.model.id ?? null }).catch(() => {});
  // Attempts an earlier run paid for and could not record are written first, and are history like any other.
  const kept = await writeKept(deps, ctx, begun.attempts);
  let history: History = { step: origin.step, handedOverFor: origin.handedOverFor, attempts: kept.attempts.map((a) => historyOf(a, true, ladder)), deadlineAt: ctx.deadlineAt };
  // The attempt made last, not yet recorded: it is written with whatever follows it. A kept
  // one is recorded already; it is here for its workflow, should the request finish with it.
  let fresh: LastAttempt | null = kept.last;
  const promptOf = (model: ModelSpec, repairOf: HistoryAttempt | null) => promptFor(ctx.request, model, repairOf, fresh);
  const policySettings = { models: ctx.settings, retry: deps.retry, worstCasePrice: (model: ModelSpec, repairOf: HistoryAttempt | null) => worstCasePrice(model, promptOf(model, repairOf)) };
  try {
    for (;;) {
      const step: Step = nextStep(history, policySettings, ctx.settings.catalog, deps.clock.now());
      switch (step.kind) {
        case 'call':
        case 'repair': {
          // A first call of a step with a step after it asks the model's circuit first.
          const gate = step.kind === 'call' && step.step < ladder.length - 1 ? await circuitGate(deps, step.model) : 'closed';
          if (gate === 'open') {
            history = { ...history, openCircuits: new Set([...(history.openCircuits ?? []), step.model.id]) };
            continue;
          }
          const prompt = promptOf(step.model, step.kind === 'repair' ? step.of : null);
          if (fresh) {
            // A repair follows the attempt it repairs: that one is paid for, so it is recorded first.
            await withRequestRow(deps, ctx, () => deps.repo.recordAttempt(fresh!.record));
            const number = fresh.record.attemptNumber;
            history = { ...history, attempts: history.attempts.map((a) => (a.attemptNumber === number ? { ...a, recorded: true } : a)) };
          }
          const made = await callModel(deps, ctx, step, prompt);
          fresh = { record: made.record, workflow: made.result.workflow, stepCount: made.result.stepCount, answer: made.result.answer };
          await recordInCircuit(deps, ctx, made, gate === 'probe');
          history = { ...history, attempts: [...history.attempts, historyOf(made.record, false, ladder)] };
          break;
        }
        case 'finish':
          return await finish(deps, ctx, step, fresh);
        case 'hand_over':
          return await handOver(deps, ctx, step, fresh?.record ?? null, origin.handedOverFor);
        case 'retry':
          return await retryLater(deps, ctx, step, fresh!.record);
      }
    }
  } catch (err) {
    await keepUnrecorded(deps, ctx, fresh, history, err);
    throw err;
  }
}

/**
 * Writes the attempts earlier runs of the request paid for and kept (the database was down),
 * then forgets them: the request's recorded attempts, oldest first, and the last kept one (for
 * its workflow). A crash between the write and the forget writes nothing twice: an attempt's
 * row is keyed by its number and its insert does nothing on conflict.
 */
async function writeKept(deps: Deps, ctx: RequestContext, recorded: readonly AttemptRecord[]): Promise<{ attempts: readonly AttemptRecord[]; last: UnrecordedAttempt | null }> {
  const kept = await deps.unrecorded.list(ctx.originJobId);
  if (kept.length === 0) return { attempts: recorded, last: null };
  const known = new Set(recorded.map((a) => a.attemptNumber));
  const missing = kept.filter((k) => !known.has(k.record.attemptNumber)).map((k) => k.record);
  for (const record of missing) await withRequestRow(deps, ctx, () => deps.repo.recordAttempt(record));
  await deps.unrecorded.clear(ctx.originJobId, kept.map((k) => k.record.attemptNumber));
  if (missing.length > 0) ctx.log.warn({ attempts: missing.map((a) => a.attemptNumber) }, 'wrote the attempts an earlier run paid for while the database was unreachable');
  const attempts = [...recorded, ...missing].sort((a, b) => a.attemptNumber - b.attemptNumber);
  const last = kept.at(-1)!;
  return { attempts, last: attempts.at(-1)?.attemptNumber === last.record.attemptNumber ? last : null };
}

/**
 * A run that paid for a call and could not record it (the database unreachable past the port's
 * retries) keeps it in Redis before its job fails: the next run writes it and decides from it,
 * instead of paying for the call again. With Redis down too, it is lost; said loudly.
 */
async function keepUnrecorded(deps: Deps, ctx: RequestContext, fresh: LastAttempt | null, history: History, err: unknown): Promise<void> {
  if (!fresh || !isTransientDbError(err)) return;
  const number = fresh.record.attemptNumber;
  if (history.attempts.find((a) => a.attemptNumber === number)?.recorded) return;
  try {
    await deps.unrecorded.keep(fresh);
    ctx.log.warn({ attempt: number, err: coerceError(err).message }, 'the database could not take a paid attempt; kept in Redis for the next run');
  } catch (keepErr) {
    ctx.log.error({ attempt: number, err: coerceError(err).message, keepErr: coerceError(keepErr).message }, 'a paid attempt is lost to the ledger: neither the database nor Redis could take it');
  }
}

async function finish(deps: Deps, ctx: RequestContext, step: Finish, fresh: LastAttempt | null): Promise<GenerationResult> {
  const outcome = finalOutcomeOf(step, fresh && { attemptNumber: fresh.record.attemptNumber, workflow: fresh.workflow, stepCount: fresh.stepCount }, {
    identity: { jobId: ctx.originJobId, userId: ctx.request.userId, agentId: ctx.request.agentId },
    settings: ctx.snapshot,
    enqueuedAt: ctx.enqueuedAt,
    deadlineAt: ctx.deadlineAt,
    finishedAt: new Date(deps.clock.now()),
  });
  const result = await finishRecording(deps, ctx, fresh?.record ?? null, outcome);
  deps.metrics.recordFinal(result.status, result.generator_used, step.role, result.generation_time_ms);
  if (step.from === null) ctx.log.warn({ deadlineMs: ctx.deadlineAt - ctx.enqueuedAt, attempts: step.attempts }, 'deadline exceeded');
  return endWith(ctx.job, result);
}

/**
 * Finishes with the attempt just paid for. When the database refuses the result (not an
 * outage: a constraint, text it cannot store), the attempt is recorded with a failure instead:
 * a job retried by BullMQ would call the model again, and nothing would record either call.
 */
async function finishRecording(deps: Deps, ctx: RequestContext, record: AttemptRecord | null, outcome: FinalOutcome): Promise<GenerationResult> {
  try {
    return await withRequestRow(deps, ctx, () => deps.repo.finish(outcome, record));
  } catch (err) {
    if (isTransientDbError(err) || err instanceof RequestRowMissingError) throw err;
    const message = coerceError(err).message;
    ctx.log.error({ err: message }, 'the database refused the result; recording the attempt and a failure instead');
    const storageRefused = REQUEST_FAILURE_REASONS.storageRefused;
    const refused: FinalOutcome = { ...outcome, status: 'failed', workflow: null, stepsGenerated: 0, generatorUsed: null, validationPassed: null, failureReason: `${storageRefused}: ${message}` };
    try {
      return await withRequestRow(deps, ctx, () => deps.repo.finish(refused, record));
    } catch (again) {
      if (isTransientDbError(again)) throw again;
      // Refused twice: end the job here; another run would pay for another call.
      throw endedJob(new RequestFailedError(storageRefused, `${storageRefused}: ${coerceError(again).message}`, { cause: again }));
    }
  }
}

async function handOver(deps: Deps, ctx: RequestContext, step: Extract<Step, { kind: 'hand_over' }>, record: AttemptRecord | null, handedOverFor: HandoverReason | null): Promise<HandoverResult> {
  const { reason, toStep } = step;
  const h = { jobId: ctx.originJobId, userId: ctx.request.userId, agentId: ctx.request.agentId, primaryModel: step.fromModel, fallbackModel: step.toModel, reason, step: toStep };
  // A hand-over recorded before a crash is not recorded (or counted) twice; the enqueue is idempotent.
  // A skipped step (no attempt) writes its row idempotently, one per step.
  const unrecorded = step.from === null || record !== null;
  if (unrecorded) await withRequestRow(deps, ctx, () => deps.repo.recordHandover(record, h));
  const id = stepJobId(ctx.originJobId, toStep);
  // The job carries why the primary was not used (the request's fallback_reason) down the whole chain.
  const data = { originJobId: ctx.originJobId, request: ctx.request, reason: handedOverFor ?? reason, primaryModel: step.fromModel, fallbackModel: step.toModel, enqueuedAt: ctx.enqueuedAt, handedOverAt: deps.clock.now() };
  await deps.fallback.enqueue(id, toStep === 1 ? data : { ...data, step: toStep });
  if (unrecorded) deps.metrics.recordFallback(step.fromModel, step.toModel, reason, toStep);
  ctx.log.warn({ reason, fallbackJobId: id, step: toStep }, 'handed over to the next model of the ladder');
  await ctx.job.updateProgress({ stage: 'fallback_enqueued', reason, fallback_job_id: id }).catch(() => {});
  return { job_id: ctx.originJobId, status: 'handed_over', fallback_job_id: id, reason };
}

async function retryLater(deps: Deps, ctx: RequestContext, step: Extract<Step, { kind: 'retry' }>, record: AttemptRecord): Promise<never> {
  await withRequestRow(deps, ctx, () => deps.repo.recordAttempt(record));
  const at = step.earliestAt + deps.random() * (step.latestAt - step.earliestAt);
  ctx.log.info({ outcome: record.outcome, retryInMs: Math.round(at - deps.clock.now()), attempt: record.attemptNumber }, 'retrying the last-resort model later');
  return delayUntil(ctx.job, ctx.token, at);
}

/**
 * Runs a write that needs the request's row. The row written at pick-up is committed without
 * waiting for the disk (see BEGIN_SQL), so a database crash just after it can lose it: then
 * this run writes it again, with the settings and pick-up time it holds, and repeats the write.
 */
async function withRequestRow<T>(deps: Deps, ctx: RequestContext, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!(err instanceof RequestRowMissingError)) throw err;
    ctx.log.warn('the request row written at pick-up is missing (lost in a database crash?); writing it again');
    await deps.repo.begin({ jobId: ctx.originJobId, userId: ctx.request.userId, agentId: ctx.request.agentId, request: ctx.request, settings: ctx.snapshot, enqueuedAt: new Date(ctx.enqueuedAt), startedAt: ctx.pickedUpAt });
    return write();
  }
}

/** A job whose worker died on it MAX_STALLS times is not given to a fourth. */
async function failIfPoison(deps: Deps, job: Job): Promise<void> {
  if ((job.stalledCounter ?? 0) >= MAX_STALLS) {
    const reason = `its worker died ${job.stalledCounter} times while processing it`;
    await recordAbandoned(deps, job, reason);
    throw endedJob(new RequestFailedError(REQUEST_FAILURE_REASONS.abandoned, `${REQUEST_FAILURE_REASONS.abandoned}: ${reason}`));
  }
}

/**
 * A job BullMQ gave up on for reasons outside the policy (its retries for infrastructure errors
 * ran out, or its worker died on it too often): record a final failure, so the request is not
 * left `queued` with no final audit row. Idempotent, like every write here.
 */
async function recordAbandoned(deps: Deps, job: Job, reason: string): Promise<void> {
  const data = job.name === JOBS.generateFallback.name ? safe(() => JOBS.generateFallback.parse(job.data)) : null;
  const request = data?.request ?? safe(() => JOBS.generate.parse(job.data));
  if (!request) return; // Bad data was rejected (and recorded) on pick-up.
  const origin: RequestOrigin = { originJobId: data?.originJobId ?? job.id!, request, enqueuedAt: data?.enqueuedAt ?? job.timestamp, step: data ? (data.step ?? 1) : 0, handedOverFor: data?.reason ?? null };
  const begun = await begin(deps, job, origin);
  if (begun.final) return;
  const ctx = contextFor(deps, job, undefined, origin, begun.settings, null);
  // A paid attempt kept while the database was down reaches the ledger with the failure.
  await writeKept(deps, ctx, begun.attempts);
  const s = ctx.settings;
  const result = await deps.repo.finish(
    {
      jobId: origin.originJobId,
      userId: request.userId,
      agentId: request.agentId,
      status: 'failed',
      workflow: null,
      stepsGenerated: 0,
      generatorUsed: null,
      primaryModel: s.primaryModel,
      fallbackModel: s.enableFallback ? s.fallbackModel : null,
      fallbackReason: origin.handedOverFor,
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

/**
 * The prompt of a call: the first call's, or a repair's with the errors of the attempt it repairs
 * and, when this run made that attempt, its answer (answers are never stored, so a repair after
 * a crash has the errors only).
 */
function promptFor(request: GenerationRequest, model: ModelSpec, repairOf: HistoryAttempt | null, fresh: LastAttempt | null): PromptCall {
  if (!repairOf || repairOf.outcome === 'ok' || !isValidationFailure(repairOf.outcome)) return firstCallPrompt(request, model);
  const answer = fresh && fresh.record.attemptNumber === repairOf.attemptNumber ? fresh.answer : '';
  return repairCallPrompt(request, model, { kind: repairOf.outcome, errors: repairOf.validationErrors ?? [], answer });
}

/** The model's circuit, asked before a call; a Redis error lets the call go ahead (the circuit is an optimisation, never a gate on work). */
async function circuitGate(deps: Deps, model: ModelSpec): Promise<CircuitDecision> {
  if (!deps.circuit) return 'closed';
  try {
    return await deps.circuit.allow(model.id, { probeLeaseMs: probeLeaseMs(model) });
  } catch (err) {
    deps.log.warn({ model: model.id, err: coerceError(err).message }, 'could not read the model circuit; calling the model');
    return 'closed';
  }
}

/** What the call tells the circuit (call failures count against the model; validation failures are answers). Best effort. */
async function recordInCircuit(deps: Deps, ctx: RequestContext, fresh: FreshAttempt, probe: boolean): Promise<void> {
  const verdict = circuitVerdict(fresh.result.outcome);
  if (!deps.circuit || verdict === null) return;
  try {
    await deps.circuit.record(fresh.result.model.id, verdict, { probe });
  } catch (err) {
    ctx.log.warn({ model: fresh.result.model.id, err: coerceError(err).message }, 'could not record the call in the model circuit');
  }
}

/** Writes the request's row at pick-up, or finds it: the settings fixed then and the attempts since. */
function begin(deps: GenerationProcessorDeps, job: Job, origin: RequestOrigin) {
  return deps.repo.begin({
    jobId: origin.originJobId,
    userId: origin.request.userId,
    agentId: origin.request.agentId,
    request: origin.request,
    settings: snapshotOf(deps.settings.current()),
    enqueuedAt: new Date(origin.enqueuedAt),
    startedAt: new Date(deps.clock.now()),
  });
}

async function reject(deps: GenerationProcessorDeps, job: Job, err: InvalidRequestError): Promise<never> {
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
  return (await endWith(job, result)) as never;
}

/** A success is the job's return value; anything else fails the job with its typed failure. */
async function endWith(job: Job, result: GenerationResult): Promise<GenerationResult> {
  if (result.status === 'succeeded') return result;
  // Callers read the details of a failed request from the job's last progress report.
  await job.updateProgress({ stage: 'finished', result });
  throw endedJob(failureOf(result));
}

/** The error a request's job fails with: unrecoverable (no BullMQ retry), its failure as data. */
function endedJob(failure: RequestEndedError): UnrecoverableError {
  return new UnrecoverableError(failure.failedReason);
}


/** BullMQ may hand a closing worker one more job (its blocking fetch wakes up): give it back. */
async function returnIfStopping(deps: GenerationProcessorDeps, job: Job, token: string | undefined): Promise<void> {
  if (deps.stoppingSignal?.aborted) await delayUntil(job, token, deps.clock.now());
}

/** Runs the job, then releases its pause check (a no-op when the call used it). */
async function releasingAfter<T>(admission: PauseCheck | null, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } finally {
    void admission?.release();
  }
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
