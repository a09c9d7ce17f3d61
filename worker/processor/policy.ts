/**
 * The generation policy: given what a request has done so far, what it does next. Pure: no
 * Redis, no Postgres, no clock of its own, so every branch is a row of a table test
 * (test/policy.test.ts), crash-resume cases included: a run that resumes after a crash sees the
 * attempts recorded before it as ordinary history.
 *
 * A request climbs a ladder of steps, one model each: step 0 is the primary, step 1 the
 * fallback (when enabled). Every step but the last hands over on any failure; the last step
 * retries transient call failures with backoff until the request's deadline (or the optional
 * attempt cap), and ends the request with its last outcome otherwise. Each step runs as a job of
 * its own (the primary queue for step 0, the fallback queue after a hand-over).
 */
import { ConfigurationError } from '../../shared/errors.ts';
import type { FieldError } from '../../shared/errors.ts';
import { formatUsd, parseUsd, type Picodollars } from '../../shared/money.ts';
import type { ModelCatalog, ModelSpec } from '../../shared/models.ts';
import { type AttemptOutcome, type AttemptRole, type HandoverReason, isValidationFailure, REQUEST_FAILURE_REASONS, type StepRole, TRANSIENT_OUTCOMES } from '../../shared/outcomes.ts';
import { isRepairable } from '../repair-prompt.ts';
import type { OrchestratorSettings } from '../../shared/settings.ts';

/** One model attempt as the policy sees it: recorded in Postgres, or just made by this run. */
export interface HistoryAttempt {
  readonly attemptNumber: number;
  /** The ladder step it was made on. */
  readonly step: number;
  readonly role: AttemptRole;
  readonly model: string;
  readonly outcome: AttemptOutcome;
  readonly httpStatus: number | null;
  readonly retryAfterMs: number | null;
  readonly errorMessage: string | null;
  readonly validationErrors: readonly FieldError[] | null;
  /** What the attempt cost (failed ones too): the spend the cost cap counts. */
  readonly cost: Picodollars;
  /** False for the attempt this run just made: it is written together with what follows it. */
  readonly recorded: boolean;
}

export interface History {
  /** The step this job runs. */
  readonly step: number;
  /** Why the request reached this step (the outcome that made the step before hand over); null on step 0. */
  readonly handedOverFor: HandoverReason | null;
  /** Every attempt of the request, oldest first. */
  readonly attempts: readonly HistoryAttempt[];
  /** When the request must be finished (epoch ms). */
  readonly deadlineAt: number;
  /** Models whose circuit this run found open (shared/model-circuit.ts): their steps are skipped. */
  readonly openCircuits?: ReadonlySet<string>;
}

export interface RetryPolicy {
  /** An optional cap on calls of the last step's model per request; 0: none, retry until the deadline. */
  readonly finalModelMaxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** The settings fixed at the request's first pick-up, and how transient failures are retried. */
export interface PolicySettings {
  readonly models: OrchestratorSettings;
  readonly retry: RetryPolicy;
  /** The most one call to `model` can cost for this request (its prompt, its output limit, its prices), a repair of `repairOf` when given: for the cost cap. */
  readonly worstCasePrice: (model: ModelSpec, repairOf: HistoryAttempt | null) => Picodollars;
}

/** Why the cost cap stopped a request: the call it would not start, and the sums. */
export interface CostCapStop {
  readonly model: string;
  readonly spent: Picodollars;
  readonly worstCase: Picodollars;
  readonly cap: Picodollars;
}

/** How a request ends: its status, the attempt whose outcome it is (if any), and why. */
export interface Finish {
  readonly kind: 'finish';
  readonly status: 'succeeded' | 'invalid' | 'failed';
  /** The step (and so the role) that produced the outcome. */
  readonly step: number;
  readonly role: StepRole;
  /** The attempt the result is taken from; null when the request stopped without one. */
  readonly from: HistoryAttempt | null;
  /** The closed-set word a failure starts with: the attempt's outcome, or a REQUEST_FAILURE_REASONS value. */
  readonly reason: string | null;
  readonly fallbackReason: HandoverReason | null;
  /** Attempts the request made in all. */
  readonly attempts: number;
  /** Set when the cost cap ended the request. */
  readonly costCap?: CostCapStop;
}

export type Step =
  /** Call the step's model, as attempt `attemptNumber`, in role `role`. */
  | { readonly kind: 'call'; readonly model: ModelSpec; readonly role: AttemptRole; readonly step: number; readonly attemptNumber: number }
  /** Re-ask the step's model with its own validation errors (and its answer, when this run has it), as attempt `attemptNumber` in role `repair`. */
  | { readonly kind: 'repair'; readonly model: ModelSpec; readonly role: 'repair'; readonly step: number; readonly attemptNumber: number; readonly of: HistoryAttempt }
  /** Record the step's failure and hand the request to step `toStep`'s job. */
  | { readonly kind: 'hand_over'; readonly from: HistoryAttempt | null; readonly fromModel: string; readonly toModel: string; readonly toStep: number; readonly reason: HandoverReason }
  /** Record the attempt just made and run this step again between the two times (jitter is the executor's draw). */
  | { readonly kind: 'retry'; readonly from: HistoryAttempt; readonly earliestAt: number; readonly latestAt: number }
  | Finish;

export interface Rung {
  readonly model: ModelSpec;
  readonly role: StepRole;
}

/** The steps a request climbs with these settings: the primary, then the fallback chain (its head is the fallback model). */
export function ladderOf(settings: OrchestratorSettings, catalog: ModelCatalog): readonly Rung[] {
  const primary: Rung = { model: modelIn(catalog, settings.primaryModel), role: 'primary' };
  if (!settings.enableFallback) return [primary];
  const chain = settings.fallbackChain && settings.fallbackChain.length > 0 ? settings.fallbackChain : [settings.fallbackModel];
  return [primary, ...chain.map((id): Rung => ({ model: modelIn(catalog, id), role: 'fallback' }))];
}

export function nextStep(history: History, settings: PolicySettings, catalog: ModelCatalog, now: number): Step {
  const ladder = ladderOf(settings.models, catalog);
  const rung = ladder[history.step];
  if (!rung) throw new ConfigurationError('INVALID_SETTINGS', `step ${history.step} is past the ladder of ${ladder.length} step(s) the request's settings give`);
  const mine = history.attempts.filter((a) => a.step === history.step);
  const last = mine.at(-1);
  const isLast = history.step === ladder.length - 1;
  // A usable answer's errors go back to the model that made them, while repairs are left and time is.
  if (last && repairsLeft(last, mine, settings.models) && now < history.deadlineAt) return repair(history, rung, last, settings);
  if (!isLast) {
    if (last) return last.outcome === 'ok' ? finishFrom(history, rung, last) : handOver(history, ladder, last, last.outcome);
    // Waited in the queue past its deadline: no call.
    if (history.attempts.length === 0 && now >= history.deadlineAt) return deadlineExceeded(history, rung, 0);
    // A model that is down is skipped at once; the last step has nowhere to go and is always called.
    if (history.openCircuits?.has(rung.model.id)) return skip(history, ladder, rung);
    return call(history, rung, settings);
  }
  const capReached = settings.retry.finalModelMaxAttempts > 0 && mine.length >= settings.retry.finalModelMaxAttempts;
  // Not worth another call (recorded before a crash, or just made): the request ends with it.
  if (last && (!isTransient(last) || capReached)) return finishFrom(history, rung, last);
  if (last && !last.recorded) {
    if (now >= history.deadlineAt) return deadlineExceeded(history, rung, history.attempts.length);
    return retryLater(last, mine.length, settings.retry, history.deadlineAt, now);
  }
  // Fresh, or back from a retry's wait.
  if (now >= history.deadlineAt) return deadlineExceeded(history, rung, history.attempts.length);
  return call(history, rung, settings);
}

/**
 * Worth another try of the same model later. A 4xx other than 408, 409 and 429 is a request the
 * vendor will never accept, even though it is classified `api_error`: retrying it until the
 * deadline would only repeat the refusal.
 */
export function isTransient(a: Pick<HistoryAttempt, 'outcome' | 'httpStatus'>): boolean {
  if (!TRANSIENT_OUTCOMES.has(a.outcome)) return false;
  const s = a.httpStatus;
  return !(a.outcome === 'api_error' && s !== null && s >= 400 && s < 500 && s !== 408 && s !== 409);
}

/**
 * When the `tries`-th transient failure is tried again: exponential backoff with full jitter
 * over its upper half; a vendor's retry-after is a floor, never shortened; the deadline a ceiling.
 */
export function retryWindow(tries: number, retryAfterMs: number | null, retry: RetryPolicy, deadlineAt: number, now: number): { earliestAt: number; latestAt: number } {
  const backoff = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.min(tries - 1, 30));
  const floor = retryAfterMs ?? 0;
  return { earliestAt: Math.min(deadlineAt, now + Math.max(floor, backoff * 0.5)), latestAt: Math.min(deadlineAt, now + Math.max(floor, backoff)) };
}

function retryLater(last: HistoryAttempt, tries: number, retry: RetryPolicy, deadlineAt: number, now: number): Step {
  return { kind: 'retry', from: last, ...retryWindow(tries, last.retryAfterMs, retry, deadlineAt, now) };
}

/**
 * A call, unless the cost cap forbids it: no call starts whose worst-case price would take what
 * the request has spent (every attempt, failed ones included) past the cap. Checked before every
 * call, a retry's too, so no request can pass its cap however its calls go.
 */
function call(history: History, rung: Rung, settings: PolicySettings): Step {
  const capped = costCapStop(history, rung, settings, null);
  if (capped) return capped;
  const attemptNumber = (history.attempts.at(-1)?.attemptNumber ?? 0) + 1;
  return { kind: 'call', model: rung.model, role: rung.role, step: history.step, attemptNumber };
}

function repair(history: History, rung: Rung, of: HistoryAttempt, settings: PolicySettings): Step {
  const capped = costCapStop(history, rung, settings, of);
  if (capped) return capped;
  const attemptNumber = (history.attempts.at(-1)?.attemptNumber ?? 0) + 1;
  return { kind: 'repair', model: rung.model, role: 'repair', step: history.step, attemptNumber, of };
}

/** Repairs apply to answers a model can correct (schema, semantic, unparseable, truncated), up to the setting per step. */
function repairsLeft(last: HistoryAttempt, mine: readonly HistoryAttempt[], settings: OrchestratorSettings): boolean {
  if (last.outcome === 'ok' || !isValidationFailure(last.outcome) || !isRepairable(last.outcome)) return false;
  return mine.filter((a) => a.role === 'repair').length < (settings.repairAttempts ?? 0);
}

/** The finish the cost cap forces on the next call, or null when the call fits under the cap. */
function costCapStop(history: History, rung: Rung, settings: PolicySettings, repairOf: HistoryAttempt | null): Finish | null {
  const cap = capOf(settings.models);
  if (cap === null) return null;
  const spent = history.attempts.reduce((sum, a) => sum + a.cost, 0n);
  const worstCase = settings.worstCasePrice(rung.model, repairOf);
  if (spent + worstCase <= cap) return null;
  const costCap: CostCapStop = { model: rung.model.id, spent, worstCase, cap };
  return { kind: 'finish', status: 'failed', step: history.step, role: rung.role, from: null, reason: REQUEST_FAILURE_REASONS.costCap, fallbackReason: history.handedOverFor, attempts: history.attempts.length, costCap };
}

/** The request's cost cap; null: none. The executor resolved the settings, so the amount is valid. */
function capOf(settings: OrchestratorSettings): Picodollars | null {
  const text = settings.maxCostPerRequestUsd;
  return text === undefined || text === null || text === '' ? null : parseUsd(text);
}

/** The cap's stop in words, for the request's failure reason and its audit row. */
export function describeCostCap(stop: CostCapStop): string {
  return `the next call (${stop.model}) could cost up to $${formatUsd(stop.worstCase)}, which would take the request's spend of $${formatUsd(stop.spent)} past its cap of $${formatUsd(stop.cap)}`;
}

function handOver(history: History, ladder: readonly Rung[], last: HistoryAttempt, reason: HandoverReason): Step {
  const to = ladder[history.step + 1]!;
  return { kind: 'hand_over', from: last, fromModel: last.model, toModel: to.model.id, toStep: history.step + 1, reason };
}

function skip(history: History, ladder: readonly Rung[], rung: Rung): Step {
  const to = ladder[history.step + 1]!;
  return { kind: 'hand_over', from: null, fromModel: rung.model.id, toModel: to.model.id, toStep: history.step + 1, reason: 'circuit_open' };
}

function finishFrom(history: History, rung: Rung, last: HistoryAttempt): Finish {
  const ok = last.outcome === 'ok';
  const status = ok ? 'succeeded' : isValidationFailure(last.outcome) ? 'invalid' : 'failed';
  return { kind: 'finish', status, step: history.step, role: rung.role, from: last, reason: ok ? null : last.outcome, fallbackReason: history.handedOverFor, attempts: history.attempts.length };
}

function deadlineExceeded(history: History, rung: Rung, attempts: number): Finish {
  return { kind: 'finish', status: 'failed', step: history.step, role: rung.role, from: null, reason: REQUEST_FAILURE_REASONS.deadlineExceeded, fallbackReason: history.handedOverFor, attempts };
}

function modelIn(catalog: ModelCatalog, id: string): ModelSpec {
  const model = catalog.find(id);
  if (!model) throw new ConfigurationError('UNKNOWN_MODEL', `the request's settings name ${JSON.stringify(id)}, which is not in the model catalog`);
  return model;
}
