/**
 * One run of a request's job: its context (settings fixed at first pick-up, deadline, logger)
 * and the model call the policy asked for, with the pause check before it and the metrics,
 * pause and log lines after it.
 */
import type { Job } from 'bullmq';
import type { AttemptRecord } from '../../db/generation-repository.ts';
import { coerceError } from '../../shared/errors.ts';
import type { FallbackJobData, GenerationRequest } from '../../shared/jobs.ts';
import type { Logger } from '../../shared/logger.ts';
import type { ModelSpec } from '../../shared/models.ts';
import { resolveSettings, type OrchestratorSettings, type ResolvedSettings } from '../../shared/settings.ts';
import type { AttemptResult, AttemptRunner } from '../attempt-runner.ts';
import type { Clock } from '../clock.ts';
import type { WorkerMetrics } from '../metrics.ts';
import type { ModelPauses, PauseCheck } from '../model-pauses.ts';
import type { SettingsSource } from '../settings-source.ts';
import { delayUntil } from './delay.ts';
import type { PromptCall } from '../repair-prompt.ts';
import type { Step } from './policy.ts';

/** What a job says about its request: the primary job is step 0, a fallback job the step it names. */
export interface RequestOrigin {
  readonly originJobId: string;
  readonly request: GenerationRequest;
  /** When the request was enqueued (its primary job's timestamp). */
  readonly enqueuedAt: number;
  readonly step: number;
  readonly handedOverFor: FallbackJobData['reason'] | null;
}

export interface RequestContext {
  readonly job: Job;
  readonly token: string | undefined;
  readonly originJobId: string;
  readonly request: GenerationRequest;
  readonly settings: ResolvedSettings;
  readonly snapshot: OrchestratorSettings;
  readonly enqueuedAt: number;
  /** When this run picked the job up: for writing the request's row again. */
  readonly pickedUpAt: Date;
  /** The pause check started alongside `begin`, for the model this run expects to call. */
  readonly admission: PauseCheck | null;
  /** When the request must be finished (epoch ms): its enqueue plus its deadlineMs. */
  readonly deadlineAt: number;
  readonly log: Logger;
}

export interface RunDeps {
  readonly attempts: AttemptRunner;
  readonly settings: SettingsSource;
  readonly pauses: ModelPauses;
  readonly metrics: WorkerMetrics;
  readonly clock: Clock;
  readonly log: Logger;
  readonly shutdownSignal: AbortSignal;
  readonly random: () => number;
  readonly defaultDeadlineMs?: number;
}

/** The attempt this run just made: the full result (its workflow) and the row to record. */
export interface FreshAttempt {
  readonly result: AttemptResult;
  readonly record: AttemptRecord;
}

const DEFAULT_PAUSE_MS = 1_000;
/** A request's deadline when neither it nor the deployment names one. */
export const DEFAULT_DEADLINE_MS = 600_000;

export function contextFor(deps: RunDeps, job: Job, token: string | undefined, origin: RequestOrigin, stored: OrchestratorSettings, admission: PauseCheck | null): RequestContext {
  let log: Logger | undefined;
  const settings = resolveSettings(stored, deps.settings.current().catalog);
  return {
    job,
    token,
    originJobId: origin.originJobId,
    request: origin.request,
    settings,
    snapshot: snapshotOf(settings),
    enqueuedAt: origin.enqueuedAt,
    pickedUpAt: new Date(deps.clock.now()),
    admission,
    deadlineAt: origin.enqueuedAt + (origin.request.deadlineMs ?? deps.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS),
    // On first use only, like the attempt's: most jobs log nothing.
    get log() {
      return (log ??= deps.log.child({ jobId: origin.originJobId, queueJobId: job.id }));
    },
  };
}

/**
 * The settings a request carries, written at its first pick-up and into each attempt row: the
 * seed's three keys, and each ladder key only when it differs from the seed's behaviour (a chain
 * longer than the fallback alone, repairs, a cost cap), so rows of requests that run as the seed
 * did keep the seed's shape. A missing ladder key reads back as its default.
 */
export function snapshotOf(s: ResolvedSettings): OrchestratorSettings {
  return {
    primaryModel: s.primaryModel,
    fallbackModel: s.fallbackModel,
    enableFallback: s.enableFallback,
    ...(s.fallbackChain.length > 1 ? { fallbackChain: [...s.fallbackChain] } : {}),
    ...(s.repairAttempts > 0 ? { repairAttempts: s.repairAttempts } : {}),
    ...(s.maxCostPerRequestUsd !== null ? { maxCostPerRequestUsd: s.maxCostPerRequestUsd } : {}),
  };
}

/** Performs a `call` step: waits out the model's pause, calls it, and reports what happened. */
export async function callModel(deps: RunDeps, ctx: RequestContext, step: Extract<Step, { kind: 'call' | 'repair' }>, prompt?: PromptCall): Promise<FreshAttempt> {
  const { model, role, attemptNumber } = step;
  await respectPause(deps, ctx, model);
  const onAnswer = () => {
    // Progress for watchers (the HTTP API's event stream); not awaited: it must not slow the job.
    ctx.job.updateProgress({ stage: 'validating', role, model: model.id }).catch(() => {});
  };
  // A call never outlasts the request's deadline.
  const r = await deps.attempts.run(model, ctx.request, deps.shutdownSignal, onAnswer, ctx.deadlineAt - deps.clock.now(), prompt);
  // Built only when something is logged: a pino child serialises (and redacts) its bindings,
  // and the fast path logs nothing at info.
  const log = () => ctx.log.child({ attempt: attemptNumber, model: model.id, role });
  if (r.aborted) {
    log().info('model call aborted by shutdown; returning the job to the queue');
    await delayUntil(ctx.job, ctx.token, deps.clock.now());
  }
  deps.metrics.recordAttempt(role, r);
  if (r.outcome === 'rate_limit') await recordPause(deps, model, r, log);
  logOutcome(deps, r, log);
  return { result: r, record: attemptRecord(ctx, step, r) };
}

/** Waits out a model's pause in the delayed set, so the slot serves other jobs meanwhile. */
async function respectPause(deps: RunDeps, ctx: RequestContext, model: ModelSpec): Promise<void> {
  const left = ctx.admission?.modelId === model.id ? await ctx.admission.remainingMs() : await deps.pauses.remainingMs(model.id);
  if (left > 0) {
    // Waiting jobs come back spread over a window as long as the pause (within bounds), so the
    // vendor sees a trickle when it ends, not every waiting job in the same millisecond; if
    // the first ones are refused again, the rest find the new pause.
    const spread = Math.min(5_000, Math.max(250, left));
    // Never past the deadline: the job wakes up then and ends as deadline_exceeded.
    await delayUntil(ctx.job, ctx.token, Math.min(ctx.deadlineAt, deps.clock.now() + left + deps.random() * spread));
  }
}

/** Best effort: the answered call must reach the ledger first, and a pause not written only costs another 429 (recorded too). */
async function recordPause(deps: RunDeps, model: ModelSpec, r: AttemptResult, log: () => Logger): Promise<void> {
  try {
    await deps.pauses.pause(model.id, r.retryAfterMs ?? DEFAULT_PAUSE_MS);
    deps.metrics.recordPause(model.id);
  } catch (err) {
    log().warn({ err: coerceError(err).message }, 'could not record the model pause');
  }
}

function logOutcome(deps: RunDeps, r: AttemptResult, log: () => Logger): void {
  if (r.outcome === 'auth_error') log().error({ httpStatus: r.httpStatus, err: r.errorMessage }, 'model call refused the credentials: check the API key variable and base URL of the catalog row');
  else if (r.outcome === 'model_unavailable' || r.outcome === 'quota_exhausted') log().error({ outcome: r.outcome, httpStatus: r.httpStatus, err: r.errorMessage }, 'model cannot serve any request (retired, unknown, or out of quota): handing over, never retried on it');
  else if (r.outcome !== 'ok') log().warn({ outcome: r.outcome, httpStatus: r.httpStatus, err: r.errorMessage }, 'model attempt failed');
  else if (deps.log.isLevelEnabled('debug')) log().debug({ latencyMs: Math.round(r.latencyMs) }, 'model attempt succeeded');
}

function attemptRecord(ctx: RequestContext, step: Extract<Step, { kind: 'call' | 'repair' }>, r: AttemptResult): AttemptRecord {
  return {
    jobId: ctx.originJobId,
    attemptNumber: step.attemptNumber,
    model: r.model.id,
    provider: r.model.provider,
    role: step.role,
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
