/**
 * The rows a request ends with, built from the policy's decision: what `finish` writes, and the
 * typed failure its job fails with. Pure, like the policy.
 */
import type { AttemptRecord, FinalOutcome, RequestIdentity } from '../../db/generation-repository.ts';
import { OutputInvalidError, type RequestEndedError, RequestFailedError, RequestRejectedError } from '../../shared/failures.ts';
import type { GenerationResult } from '../../shared/generation-result.ts';
import { REJECTION_REASONS, REQUEST_FAILURE_REASONS } from '../../shared/outcomes.ts';
import type { OrchestratorSettings } from '../../shared/settings.ts';
import type { Workflow } from '../../shared/workflow-schema.ts';
import { describeCostCap, type Finish, type HistoryAttempt, type Rung } from './policy.ts';

/** The answer of the attempt this run just made: a recorded attempt's workflow is not kept. */
export interface FreshAnswer {
  readonly attemptNumber: number;
  readonly workflow: Workflow | null;
  readonly stepCount: number;
}

export interface EndingContext {
  readonly identity: RequestIdentity;
  readonly settings: OrchestratorSettings;
  readonly enqueuedAt: number;
  readonly deadlineAt: number;
  readonly finishedAt: Date;
}

export function finalOutcomeOf(step: Finish, fresh: FreshAnswer | null, ctx: EndingContext): FinalOutcome {
  const from = step.from;
  const answer = from && fresh?.attemptNumber === from.attemptNumber ? fresh : null;
  const base = {
    ...ctx.identity,
    status: step.status,
    primaryModel: ctx.settings.primaryModel,
    fallbackModel: ctx.settings.enableFallback ? ctx.settings.fallbackModel : null,
    fallbackReason: step.fallbackReason,
    finishedAt: ctx.finishedAt,
  };
  if (!from) {
    // The deadline or the cost cap stopped the request before another call.
    const deadlineMs = ctx.deadlineAt - ctx.enqueuedAt;
    const failureReason = step.costCap
      ? `${REQUEST_FAILURE_REASONS.costCap}: ${describeCostCap(step.costCap)}`
      : `${REQUEST_FAILURE_REASONS.deadlineExceeded}: the request's deadline of ${deadlineMs} ms passed after ${step.attempts} attempt${step.attempts === 1 ? '' : 's'}`;
    return { ...base, workflow: null, stepsGenerated: 0, generatorUsed: null, validationPassed: null, validationErrors: null, failureReason };
  }
  return {
    ...base,
    workflow: answer?.workflow ?? null,
    stepsGenerated: answer?.stepCount ?? 0,
    generatorUsed: step.status === 'failed' ? null : from.model,
    validationPassed: step.status === 'succeeded' ? true : step.status === 'invalid' ? false : null,
    validationErrors: from.validationErrors,
    failureReason: failureReasonOf(step.status, from),
  };
}

function failureReasonOf(status: Finish['status'], from: HistoryAttempt): string | null {
  if (status === 'succeeded') return null;
  if (status === 'invalid') return from.outcome;
  return `${from.outcome}${from.errorMessage ? `: ${from.errorMessage}` : ''}`;
}

/**
 * A request's attempt record as the policy reads it. Its step is its model's place on the
 * request's ladder (a ladder names a model once); a primary attempt is step 0 whatever follows.
 */
export function historyOf(a: AttemptRecord, recorded: boolean, ladder: readonly Rung[]): HistoryAttempt {
  const step = a.role === 'primary' ? 0 : ladder.findIndex((r) => r.model.id === a.model && (a.role === 'repair' || r.role === a.role));
  return {
    attemptNumber: a.attemptNumber,
    step: step < 0 ? 0 : step,
    role: a.role,
    model: a.model,
    outcome: a.outcome,
    httpStatus: a.httpStatus,
    retryAfterMs: a.retryAfterMs,
    errorMessage: a.errorMessage,
    validationErrors: a.validationErrors,
    cost: a.cost,
    recorded,
  };
}

/** The typed failure of a result that is not a success. */
export function failureOf(result: GenerationResult): RequestEndedError {
  const why = result.failure_reason ?? result.status;
  if (result.status === 'invalid') return new OutputInvalidError(why, (result.validation_errors ?? []).length);
  if (result.status === 'rejected') return new RequestRejectedError(REJECTION_REASONS.invalidRequest, why);
  // A failure reason starts with its closed-set word: `timeout: …`, `deadline_exceeded: …`.
  return new RequestFailedError(why.split(':', 1)[0]!, why);
}
