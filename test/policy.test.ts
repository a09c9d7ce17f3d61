/**
 * The generation policy, table by table: a history (what the request did so far), the settings
 * and the time go in, one step comes out. No Redis, no Postgres, no clock. A crash is only a
 * history whose attempts are recorded and whose next write never happened, so the crash-resume
 * cases are ordinary rows here.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG } from '../shared/default-catalog.ts';
import { ConfigurationError } from '../shared/errors.ts';
import { parseUsd } from '../shared/money.ts';
import type { AttemptOutcome, HandoverReason } from '../shared/outcomes.ts';
import { type History, type HistoryAttempt, isTransient, nextStep, type PolicySettings, retryWindow, type Step } from '../worker/processor/policy.ts';

const NOW = 1_000_000;
const DEADLINE = NOW + 60_000;
const RETRY = { finalModelMaxAttempts: 0, baseDelayMs: 20, maxDelayMs: 2_000 };
/** Every call's worst case in these tables: $0.01 (the cost cap's rows set their own). */
const CENT = parseUsd('0.01');
const WITH_FALLBACK: PolicySettings = { models: { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true }, retry: RETRY, worstCasePrice: () => CENT };
const PRIMARY_ONLY: PolicySettings = { ...WITH_FALLBACK, models: { ...WITH_FALLBACK.models, enableFallback: false } };
const CAPPED: PolicySettings = { ...WITH_FALLBACK, retry: { ...RETRY, finalModelMaxAttempts: 3 } };

/**
 * An attempt: `p:` primary (step 0), `f:` fallback (step 1), `pr:` and `fr:` a repair on those
 * steps; `*` marks the one this run just made.
 */
function attempt(spec: string, attemptNumber: number, extra: Partial<HistoryAttempt> = {}): HistoryAttempt {
  const fresh = spec.endsWith('*');
  const [who, outcome] = spec.replace('*', '').split(':') as ['p' | 'f' | 'pr' | 'fr', AttemptOutcome];
  const onPrimary = who === 'p' || who === 'pr';
  return {
    attemptNumber,
    step: onPrimary ? 0 : 1,
    role: who === 'p' ? 'primary' : who === 'f' ? 'fallback' : 'repair',
    model: onPrimary ? 'gpt-4o-mini' : 'claude-sonnet-4-6',
    outcome,
    httpStatus: outcome === 'ok' || outcome === 'schema' || outcome === 'semantic' || outcome === 'refusal' ? 200 : outcome === 'api_error' ? 500 : outcome === 'rate_limit' ? 429 : null,
    retryAfterMs: null,
    errorMessage: outcome === 'ok' ? null : `${outcome} happened`,
    validationErrors: null,
    cost: CENT,
    recorded: !fresh,
    ...extra,
  };
}

function history(step: 0 | 1, specs: readonly (string | HistoryAttempt)[], handedOverFor: HandoverReason | null = step === 1 ? 'schema' : null): History {
  return { step, handedOverFor, attempts: specs.map((s, i) => (typeof s === 'string' ? attempt(s, i + 1) : s)), deadlineAt: DEADLINE };
}

/** The parts of a step a row states; the rest (the models' whole catalog rows) is checked apart. */
function summary(step: Step): Record<string, unknown> {
  switch (step.kind) {
    case 'call':
      return { kind: 'call', model: step.model.id, role: step.role, step: step.step, attemptNumber: step.attemptNumber };
    case 'repair':
      return { kind: 'repair', model: step.model.id, step: step.step, attemptNumber: step.attemptNumber, of: step.of.attemptNumber };
    case 'hand_over':
      return { kind: 'hand_over', from: step.from?.attemptNumber ?? null, recorded: step.from?.recorded ?? null, fromModel: step.fromModel, toModel: step.toModel, toStep: step.toStep, reason: step.reason };
    case 'retry':
      return { kind: 'retry', from: step.from.attemptNumber, earliestIn: step.earliestAt - NOW, latestIn: step.latestAt - NOW };
    case 'finish':
      return { kind: 'finish', status: step.status, role: step.role, from: step.from?.attemptNumber ?? null, reason: step.reason, fallbackReason: step.fallbackReason, attempts: step.attempts };
  }
}

interface Row {
  readonly name: string;
  readonly history: History;
  readonly settings?: PolicySettings;
  readonly now?: number;
  readonly expected: Record<string, unknown>;
}

const call = (model: string, role: string, step: number, attemptNumber: number) => ({ kind: 'call', model, role, step, attemptNumber });
const finish = (status: string, role: string, from: number | null, reason: string | null, fallbackReason: string | null, attempts: number) => ({ kind: 'finish', status, role, from, reason, fallbackReason, attempts });
const handOver = (from: number, recorded: boolean, reason: string) => ({ kind: 'hand_over', from, recorded, fromModel: 'gpt-4o-mini', toModel: 'claude-sonnet-4-6', toStep: 1, reason });

const STEP_0_WITH_FALLBACK: Row[] = [
  { name: 'a fresh request calls the primary as attempt 1', history: history(0, []), expected: call('gpt-4o-mini', 'primary', 0, 1) },
  { name: 'a request that waited past its deadline ends without a call', history: history(0, []), now: DEADLINE, expected: finish('failed', 'primary', null, 'deadline_exceeded', null, 0) },
  { name: 'a usable primary answer finishes the request', history: history(0, ['p:ok*']), expected: finish('succeeded', 'primary', 1, null, null, 1) },
  { name: 'a schema failure hands over to step 1', history: history(0, ['p:schema*']), expected: handOver(1, false, 'schema') },
  { name: 'a truncated answer hands over', history: history(0, ['p:truncated*']), expected: handOver(1, false, 'truncated') },
  { name: 'a transient call failure hands over: only the last step retries', history: history(0, ['p:timeout*']), expected: handOver(1, false, 'timeout') },
  { name: 'a rate limit hands over at once', history: history(0, ['p:rate_limit*']), expected: handOver(1, false, 'rate_limit') },
  { name: 'a retired model hands over', history: history(0, ['p:model_unavailable*']), expected: handOver(1, false, 'model_unavailable') },
  { name: 'a failure past the deadline still hands over (the next step ends it)', history: history(0, ['p:schema*']), now: DEADLINE + 1, expected: handOver(1, false, 'schema') },
  { name: 'crash after the hand-over was recorded, before the enqueue: only the enqueue is left', history: history(0, ['p:semantic']), expected: handOver(1, true, 'semantic') },
  { name: 'crash-resumed past the deadline: the recorded hand-over is still completed', history: history(0, ['p:semantic']), now: DEADLINE + 5, expected: handOver(1, true, 'semantic') },
];

const STEP_1: Row[] = [
  { name: 'the fallback job calls the fallback as the next attempt', history: history(1, ['p:schema']), expected: call('claude-sonnet-4-6', 'fallback', 1, 2) },
  { name: 'the fallback job past the deadline ends without a call', history: history(1, ['p:schema']), now: DEADLINE, expected: finish('failed', 'fallback', null, 'deadline_exceeded', 'schema', 1) },
  { name: 'a usable fallback answer succeeds, naming why the primary was not used', history: history(1, ['p:schema', 'f:ok*']), expected: finish('succeeded', 'fallback', 2, null, 'schema', 2) },
  { name: 'an invalid fallback answer ends invalid', history: history(1, ['p:schema', 'f:semantic*']), expected: finish('invalid', 'fallback', 2, 'semantic', 'schema', 2) },
  { name: 'a refusal ends invalid (a validation kind)', history: history(1, ['p:schema', 'f:refusal*']), expected: finish('invalid', 'fallback', 2, 'refusal', 'schema', 2) },
  { name: 'bad credentials end failed, never retried', history: history(1, ['p:schema', 'f:auth_error*']), expected: finish('failed', 'fallback', 2, 'auth_error', 'schema', 2) },
  { name: 'an exhausted quota ends failed, never retried', history: history(1, ['p:schema', 'f:quota_exhausted*']), expected: finish('failed', 'fallback', 2, 'quota_exhausted', 'schema', 2) },
  { name: 'a 500 is retried after the first backoff, jittered over its upper half', history: history(1, ['p:schema', 'f:api_error*']), expected: { kind: 'retry', from: 2, earliestIn: 10, latestIn: 20 } },
  { name: 'the backoff doubles with each try of the step', history: history(1, ['p:schema', 'f:api_error', 'f:api_error', 'f:timeout*']), expected: { kind: 'retry', from: 4, earliestIn: 40, latestIn: 80 } },
  { name: "a vendor's retry-after is a floor", history: history(1, ['p:schema', attempt('f:rate_limit*', 2, { retryAfterMs: 5_000 })]), expected: { kind: 'retry', from: 2, earliestIn: 5_000, latestIn: 5_000 } },
  { name: 'the deadline is a ceiling on the retry time', history: history(1, ['p:schema', attempt('f:rate_limit*', 2, { retryAfterMs: 120_000 })]), expected: { kind: 'retry', from: 2, earliestIn: 60_000, latestIn: 60_000 } },
  { name: 'a 400 classified api_error is not retried', history: history(1, ['p:schema', attempt('f:api_error*', 2, { httpStatus: 400 })]), expected: finish('failed', 'fallback', 2, 'api_error', 'schema', 2) },
  { name: 'a 408 is retried', history: history(1, ['p:schema', attempt('f:api_error*', 2, { httpStatus: 408 })]), expected: { kind: 'retry', from: 2, earliestIn: 10, latestIn: 20 } },
  { name: 'a transient failure at the deadline ends the request, the attempt counted', history: history(1, ['p:schema', 'f:timeout', 'f:timeout*']), now: DEADLINE, expected: finish('failed', 'fallback', null, 'deadline_exceeded', 'schema', 3) },
  { name: 'back from a retry wait: the next attempt', history: history(1, ['p:schema', 'f:api_error', 'f:timeout']), expected: call('claude-sonnet-4-6', 'fallback', 1, 4) },
  { name: 'back from a retry wait past the deadline: ends without a call', history: history(1, ['p:schema', 'f:api_error']), now: DEADLINE + 1, expected: finish('failed', 'fallback', null, 'deadline_exceeded', 'schema', 2) },
  { name: 'crash after a final attempt was recorded but not finished: finishes from the record', history: history(1, ['p:schema', 'f:bad_request']), expected: finish('failed', 'fallback', 2, 'bad_request', 'schema', 2) },
];

const CAP_AND_PRIMARY_ONLY: Row[] = [
  { name: 'the attempt cap ends the last step with its last outcome', history: history(1, ['p:schema', 'f:timeout', 'f:timeout', 'f:api_error*']), settings: CAPPED, expected: finish('failed', 'fallback', 4, 'api_error', 'schema', 4) },
  { name: 'below the cap it still retries', history: history(1, ['p:schema', 'f:timeout', 'f:timeout*']), settings: CAPPED, expected: { kind: 'retry', from: 3, earliestIn: 20, latestIn: 40 } },
  { name: 'crash after the capped attempt was recorded: finishes from it, no fourth call', history: history(1, ['p:schema', 'f:timeout', 'f:timeout', 'f:timeout']), settings: CAPPED, expected: finish('failed', 'fallback', 4, 'timeout', 'schema', 4) },
  { name: 'fallback off: the primary is the last step, its invalid answer is final', history: history(0, ['p:schema*']), settings: PRIMARY_ONLY, expected: finish('invalid', 'primary', 1, 'schema', null, 1) },
  { name: 'fallback off: a transient failure of the primary is retried', history: history(0, ['p:timeout*']), settings: PRIMARY_ONLY, expected: { kind: 'retry', from: 1, earliestIn: 10, latestIn: 20 } },
  { name: 'fallback off: back from the wait, the primary again', history: history(0, ['p:timeout', 'p:api_error']), settings: PRIMARY_ONLY, expected: call('gpt-4o-mini', 'primary', 0, 3) },
  { name: 'fallback off: a fresh request past its deadline ends without a call', history: history(0, []), settings: PRIMARY_ONLY, now: DEADLINE + 1, expected: finish('failed', 'primary', null, 'deadline_exceeded', null, 0) },
  { name: 'fallback off: success', history: history(0, ['p:timeout', 'p:ok*']), settings: PRIMARY_ONLY, expected: finish('succeeded', 'primary', 2, null, null, 2) },
];

describe.each([
  ['step 0 with a fallback', STEP_0_WITH_FALLBACK],
  ['step 1, the last step', STEP_1],
  ['the attempt cap, and fallback off', CAP_AND_PRIMARY_ONLY],
])('nextStep: %s', (_, rows) => {
  it.each(rows)('$name', (row) => {
    const step = nextStep(row.history, row.settings ?? WITH_FALLBACK, DEFAULT_CATALOG, row.now ?? NOW);
    expect(summary(step)).toEqual(row.expected);
  });
});

describe('nextStep: what it refuses', () => {
  it('a step past the ladder the settings give', () => {
    expect(() => nextStep(history(1, ['p:schema']), PRIMARY_ONLY, DEFAULT_CATALOG, NOW)).toThrow(ConfigurationError);
  });
  it('settings naming a model the catalog does not hold', () => {
    const settings = { ...WITH_FALLBACK, models: { ...WITH_FALLBACK.models, fallbackModel: 'no-such-model' } };
    expect(() => nextStep(history(0, []), settings, DEFAULT_CATALOG, NOW)).toThrow(/no-such-model/);
  });
});

describe('a call step carries the catalog row', () => {
  it('with its prices and limits', () => {
    const step = nextStep(history(1, ['p:schema']), WITH_FALLBACK, DEFAULT_CATALOG, NOW);
    expect(step.kind === 'call' && step.model).toBe(DEFAULT_CATALOG.find('claude-sonnet-4-6'));
  });
});

describe('isTransient', () => {
  it.each([
    ['rate_limit', 429, true],
    ['timeout', null, true],
    ['api_error', 500, true],
    ['api_error', 503, true],
    ['api_error', null, true],
    ['api_error', 408, true],
    ['api_error', 409, true],
    ['api_error', 400, false],
    ['api_error', 422, false],
    ['auth_error', 401, false],
    ['model_unavailable', 404, false],
    ['quota_exhausted', 429, false],
    ['bad_request', 400, false],
    ['schema', 200, false],
    ['ok', 200, false],
  ] as const)('%s (%s) → %s', (outcome, httpStatus, expected) => {
    expect(isTransient({ outcome, httpStatus })).toBe(expected);
  });
});

describe('retryWindow', () => {
  it('never past the maximum delay, however many tries', () => {
    expect(retryWindow(40, null, RETRY, Infinity, 0)).toEqual({ earliestAt: 1_000, latestAt: 2_000 });
  });
});

describe('nextStep: the cost cap', () => {
  const capped = (cap: string, worstCase: string): PolicySettings => ({ ...WITH_FALLBACK, models: { ...WITH_FALLBACK.models, maxCostPerRequestUsd: cap }, worstCasePrice: () => parseUsd(worstCase) });
  const cases: readonly { name: string; history: History; settings: PolicySettings; expected: Record<string, unknown>; spent?: string }[] = [
    { name: 'a first call within the cap is made', history: history(0, []), settings: capped('0.05', '0.01'), expected: call('gpt-4o-mini', 'primary', 0, 1) },
    { name: 'a first call whose worst case passes the cap is never made', history: history(0, []), settings: capped('0.005', '0.01'), expected: finish('failed', 'primary', null, 'cost_cap', null, 0), spent: '0' },
    { name: 'the next step is not started when spent + its worst case passes the cap', history: history(1, ['p:schema']), settings: capped('0.05', '0.05'), expected: finish('failed', 'fallback', null, 'cost_cap', 'schema', 1), spent: '0.01' },
    { name: 'reaching the cap exactly is allowed', history: history(1, ['p:schema']), settings: capped('0.05', '0.04'), expected: call('claude-sonnet-4-6', 'fallback', 1, 2) },
    { name: "a retry is a call too: the last step's retries stop at the cap", history: history(1, ['p:schema', 'f:timeout', 'f:timeout', 'f:timeout']), settings: capped('0.045', '0.01'), expected: finish('failed', 'fallback', null, 'cost_cap', 'schema', 4), spent: '0.04' },
    { name: 'an empty cap is no cap', history: history(1, ['p:schema']), settings: capped('', '1000'), expected: call('claude-sonnet-4-6', 'fallback', 1, 2) },
  ];
  it.each(cases)('$name', (row) => {
    const step = nextStep(row.history, row.settings, DEFAULT_CATALOG, NOW);
    expect(summary(step)).toEqual(row.expected);
    if (row.spent !== undefined && step.kind === 'finish') {
      expect(step.costCap).toEqual({ model: step.role === 'primary' ? 'gpt-4o-mini' : 'claude-sonnet-4-6', spent: parseUsd(row.spent), worstCase: row.settings.worstCasePrice(DEFAULT_CATALOG.find('gpt-4o-mini')!, null), cap: parseUsd(row.settings.models.maxCostPerRequestUsd!) });
    }
  });
});

describe('nextStep: repairs', () => {
  const repairs = (n: number, settings: PolicySettings = WITH_FALLBACK): PolicySettings => ({ ...settings, models: { ...settings.models, repairAttempts: n } });
  const repair = (model: string, step: number, attemptNumber: number, of: number) => ({ kind: 'repair', model, step, attemptNumber, of });
  const rows: Row[] = [
    { name: 'no repairs by default: a schema failure hands over', history: history(0, ['p:schema*']), expected: handOver(1, false, 'schema') },
    { name: 'a schema failure is repaired by the same model', history: history(0, ['p:schema*']), settings: repairs(1), expected: repair('gpt-4o-mini', 0, 2, 1) },
    { name: 'semantic, unparseable and truncated are repaired too', history: history(0, ['p:truncated*']), settings: repairs(1), expected: repair('gpt-4o-mini', 0, 2, 1) },
    { name: 'a refusal is not repaired', history: history(0, ['p:refusal*']), settings: repairs(2), expected: handOver(1, false, 'refusal') },
    { name: 'a call failure is not repaired', history: history(0, ['p:timeout*']), settings: repairs(2), expected: handOver(1, false, 'timeout') },
    { name: 'a repair that works finishes the request on its step', history: history(0, ['p:schema', 'pr:ok*']), settings: repairs(1), expected: finish('succeeded', 'primary', 2, null, null, 2) },
    { name: 'repairs exhausted: the step hands over with the last outcome', history: history(0, ['p:schema', 'pr:semantic*']), settings: repairs(1), expected: handOver(2, false, 'semantic') },
    { name: 'a second repair while the setting allows two', history: history(0, ['p:schema', 'pr:semantic*']), settings: repairs(2), expected: repair('gpt-4o-mini', 0, 3, 2) },
    { name: 'the last step repairs too, then ends invalid', history: history(1, ['p:schema', 'f:schema', 'fr:schema*']), settings: repairs(1), expected: finish('invalid', 'fallback', 3, 'schema', 'schema', 3) },
    { name: 'the last step: a repair that works', history: history(1, ['p:schema', 'f:schema', 'fr:ok*']), settings: repairs(1), expected: finish('succeeded', 'fallback', 3, null, 'schema', 3) },
    { name: 'crash after the failed answer was recorded: the repair is still made', history: history(0, ['p:schema']), settings: repairs(1), expected: repair('gpt-4o-mini', 0, 2, 1) },
    { name: 'crash after the repair was recorded: no second repair beyond the setting', history: history(0, ['p:schema', 'pr:schema']), settings: repairs(1), expected: handOver(2, true, 'schema') },
    { name: 'no repair past the deadline', history: history(0, ['p:schema*']), settings: repairs(1), now: DEADLINE, expected: handOver(1, false, 'schema') },
    { name: "a repair's transient failure on the last step is retried as a first call", history: history(1, ['p:schema', 'f:schema', 'fr:timeout']), settings: repairs(1), expected: call('claude-sonnet-4-6', 'fallback', 1, 4) },
    { name: 'the cost cap holds for repairs', history: history(0, ['p:schema*']), settings: { ...repairs(1), models: { ...repairs(1).models, maxCostPerRequestUsd: '0.015' } }, expected: finish('failed', 'primary', null, 'cost_cap', null, 1) },
  ];
  it.each(rows)('$name', (row) => {
    expect(summary(nextStep(row.history, row.settings ?? WITH_FALLBACK, DEFAULT_CATALOG, row.now ?? NOW))).toEqual(row.expected);
  });
});

describe('nextStep: a chain of three', () => {
  const CHAIN: PolicySettings = { ...WITH_FALLBACK, models: { ...WITH_FALLBACK.models, fallbackChain: ['claude-sonnet-4-6', 'gpt-4.1-mini'] } };
  const third = (spec: string, n: number) => attempt(spec, n, { step: 2, model: 'gpt-4.1-mini' });
  const rows: Row[] = [
    { name: 'the fallback is no longer the last step: its failure hands over to step 2', history: history(1, ['p:schema', 'f:semantic*']), settings: CHAIN, expected: { kind: 'hand_over', from: 2, recorded: false, fromModel: 'claude-sonnet-4-6', toModel: 'gpt-4.1-mini', toStep: 2, reason: 'semantic' } },
    { name: 'nor does it retry a transient failure', history: history(1, ['p:schema', 'f:timeout*']), settings: CHAIN, expected: { kind: 'hand_over', from: 2, recorded: false, fromModel: 'claude-sonnet-4-6', toModel: 'gpt-4.1-mini', toStep: 2, reason: 'timeout' } },
    { name: 'step 2 of the chain calls its model (the job of step 2)', history: { ...history(1, ['p:schema', 'f:semantic']), step: 2 }, settings: CHAIN, expected: call('gpt-4.1-mini', 'fallback', 2, 3) },
    { name: 'the last step succeeds; the request still names the primary’s reason', history: { ...history(1, ['p:schema', 'f:semantic', third('f:ok*', 3)]), step: 2 }, settings: CHAIN, expected: finish('succeeded', 'fallback', 3, null, 'schema', 3) },
    { name: 'the last step retries transient failures', history: { ...history(1, ['p:schema', 'f:semantic', third('f:timeout*', 3)]), step: 2 }, settings: CHAIN, expected: { kind: 'retry', from: 3, earliestIn: 10, latestIn: 20 } },
  ];
  it.each(rows)('$name', (row) => {
    expect(summary(nextStep(row.history, row.settings ?? WITH_FALLBACK, DEFAULT_CATALOG, row.now ?? NOW))).toEqual(row.expected);
  });
  it('crash mid-ladder: step 1’s hand-over recorded, step 2 not enqueued: the re-run of step 1 only enqueues', () => {
    const step = nextStep(history(1, ['p:schema', 'f:semantic']), CHAIN, DEFAULT_CATALOG, NOW);
    expect(summary(step)).toEqual({ kind: 'hand_over', from: 2, recorded: true, fromModel: 'claude-sonnet-4-6', toModel: 'gpt-4.1-mini', toStep: 2, reason: 'semantic' });
  });
  it('crash mid-ladder: step 2 resumed after its call was recorded as a transient failure: called again', () => {
    const step = nextStep({ ...history(1, ['p:schema', 'f:semantic', third('f:api_error', 3)]), step: 2 }, CHAIN, DEFAULT_CATALOG, NOW);
    expect(summary(step)).toEqual(call('gpt-4.1-mini', 'fallback', 2, 4));
  });
});

describe('nextStep: a model whose circuit is open', () => {
  const CHAIN: PolicySettings = { ...WITH_FALLBACK, models: { ...WITH_FALLBACK.models, fallbackChain: ['claude-sonnet-4-6', 'gpt-4.1-mini'] } };
  const open = (h: History, ...models: string[]): History => ({ ...h, openCircuits: new Set(models) });
  const skip = (fromModel: string, toModel: string, toStep: number) => ({ kind: 'hand_over', from: null, recorded: null, fromModel, toModel, toStep, reason: 'circuit_open' });
  const rows: Row[] = [
    { name: 'the primary is skipped: straight to the fallback, no call', history: open(history(0, []), 'gpt-4o-mini'), expected: skip('gpt-4o-mini', 'claude-sonnet-4-6', 1) },
    { name: 'another model’s open circuit changes nothing', history: open(history(0, []), 'gpt-4.1'), expected: call('gpt-4o-mini', 'primary', 0, 1) },
    { name: 'a middle step of the chain is skipped too', history: open(history(1, [], 'circuit_open'), 'claude-sonnet-4-6'), settings: CHAIN, expected: skip('claude-sonnet-4-6', 'gpt-4.1-mini', 2) },
    { name: 'the last step is called even when open: there is nowhere else to go', history: open(history(1, ['p:schema']), 'claude-sonnet-4-6'), expected: call('claude-sonnet-4-6', 'fallback', 1, 2) },
    { name: 'past the deadline a skip is not made: the request ends', history: open(history(0, []), 'gpt-4o-mini'), now: DEADLINE, expected: finish('failed', 'primary', null, 'deadline_exceeded', null, 0) },
    { name: 'after a skip the fallback’s result names circuit_open as why the primary was not used', history: history(1, ['f:ok*'].map((s, i) => attempt(s, i + 1)), 'circuit_open'), expected: finish('succeeded', 'fallback', 1, null, 'circuit_open', 1) },
  ];
  it.each(rows)('$name', (row) => {
    expect(summary(nextStep(row.history, row.settings ?? WITH_FALLBACK, DEFAULT_CATALOG, row.now ?? NOW))).toEqual(row.expected);
  });
});
