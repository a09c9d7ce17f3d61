/**
 * Fault configuration: which failure a simulated model produces, how often, and the
 * `[sim:model=fault]` goal directive that forces one for a single request.
 */
import type { ModelSpec } from '../../shared/models.ts';
import { isModelKey, lookupPerModel } from './catalog.ts';

/** Faults in the model's answer: the HTTP call succeeds. */
export const OUTPUT_FAULTS = ['unparseable', 'prose_wrapped', 'truncated', 'refusal', 'empty', 'schema', 'semantic'] as const;
/** Faults of the call itself: an error status, a delay or no answer at all. */
/** `huge`: a 10 MB answer; `endless`: a 200 whose body never ends. */
/** `quota`: billing exhausted; `model_unavailable`: the vendor's 404 for the model; `bad_request`: a 400 it refuses again. */
export const CALL_FAULTS = ['rate_limit', 'server_error', 'overloaded', 'auth', 'slow', 'hang', 'huge', 'endless', 'quota', 'model_unavailable', 'bad_request'] as const;
export const FAULT_KINDS = [...OUTPUT_FAULTS, ...CALL_FAULTS] as const;

export type OutputFault = (typeof OUTPUT_FAULTS)[number];
export type FaultKind = (typeof FAULT_KINDS)[number];
/** What one request turned into; the stats are counted by this. */
/** `scripted`: an answer queued with setScript, served as is. */
export type Outcome = 'ok' | 'scripted' | FaultKind;

export interface FaultTuning {
  /** Seconds in `retry-after` of a rate_limit fault (default 1). */
  retryAfterSeconds?: number;
  /** Delay of a slow fault before it answers (default 5000). */
  slowMs?: number;
  /** Requests per second this model accepts before answering 429 (token bucket). */
  rateLimitPerSecond?: number;
  /**
   * The chance (0-1) that a repair call (one carrying `<previous_answer>`: the model re-asked with
   * its own validation errors) answers a valid workflow; otherwise it answers a `schema` fault
   * again. Call faults still come at their rates. Default DEFAULT_REPAIR_SUCCESS_RATE.
   */
  repairSuccessRate?: number;
}

export type ModelFaults = { [K in FaultKind]?: number } & FaultTuning;
/** Keyed by catalog id, apiModel or '*'. */
export type FaultConfig = Record<string, ModelFaults>;

export const DEFAULT_RETRY_AFTER_SECONDS = 1;
export const DEFAULT_SLOW_MS = 5000;
/**
 * An assumption, not a measurement: re-asked with its errors, a model answers valid 7 times in
 * 10. Benchmarks state the rate they ran with.
 */
export const DEFAULT_REPAIR_SUCCESS_RATE = 0.7;

const TUNING_KEYS = ['retryAfterSeconds', 'slowMs', 'rateLimitPerSecond', 'repairSuccessRate'] as const;

export function isFaultKind(value: string): value is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(value);
}

export function isOutputFault(value: Outcome): value is OutputFault {
  return (OUTPUT_FAULTS as readonly string[]).includes(value);
}

/** Checks untrusted data (env, admin endpoint); the error message names the bad entry. */
export function parseFaultConfig(data: unknown): FaultConfig {
  if (!isPlainObject(data)) throw new Error('fault config must be a JSON object keyed by model id');
  const config: FaultConfig = {};
  for (const [model, entry] of Object.entries(data)) {
    if (!isModelKey(model)) throw new Error(`fault config: unknown model "${model}" (use a catalog id, an apiModel or "*")`);
    if (!isPlainObject(entry)) throw new Error(`fault config: "${model}" must be an object`);
    const faults: ModelFaults = {};
    let total = 0;
    for (const [key, value] of Object.entries(entry)) {
      const where = `fault config: "${model}".${key}`;
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${where} must be a number`);
      if (isFaultKind(key)) {
        if (value < 0 || value > 1) throw new Error(`${where} must be a probability between 0 and 1`);
        faults[key] = value;
        total += value;
      } else if ((TUNING_KEYS as readonly string[]).includes(key)) {
        if (value < 0 || (key === 'rateLimitPerSecond' && value === 0)) throw new Error(`${where} must be positive`);
        if (key === 'repairSuccessRate' && value > 1) throw new Error(`${where} must be a probability between 0 and 1`);
        faults[key as (typeof TUNING_KEYS)[number]] = value;
      } else {
        throw new Error(`fault config: "${model}" has unknown key "${key}" (fault kinds: ${FAULT_KINDS.join(', ')})`);
      }
    }
    if (total > 1 + 1e-9) throw new Error(`fault config: probabilities of "${model}" add up to ${total}, more than 1`);
    config[model] = faults;
  }
  return config;
}

export function faultsFor(config: FaultConfig, model: ModelSpec): ModelFaults {
  return lookupPerModel(config, model) ?? {};
}

/** At most one fault, by cumulative probability, from one uniform draw in [0, 1). */
export function pickFault(faults: ModelFaults, draw: number): FaultKind | null {
  let cumulative = 0;
  for (const kind of FAULT_KINDS) {
    cumulative += faults[kind] ?? 0;
    if (draw < cumulative) return kind;
  }
  return null;
}

export interface Directive {
  readonly model: string;
  readonly outcome: Outcome;
}

const DIRECTIVE = /\[sim:([^\]=\s]+)=([^\]\s]+)\]/g;

/** `[sim:<model-or-*>=<fault-or-ok>]`, any number of times; throws on an unknown model or fault. */
export function parseDirectives(goal: string): Directive[] {
  const directives: Directive[] = [];
  for (const [text, model, outcome] of goal.matchAll(DIRECTIVE)) {
    if (!isModelKey(model!)) throw new Error(`directive ${text}: unknown model "${model}"`);
    if (outcome !== 'ok' && !isFaultKind(outcome!)) throw new Error(`directive ${text}: unknown fault "${outcome}" (one of ok, ${FAULT_KINDS.join(', ')})`);
    directives.push({ model: model!, outcome: outcome as Outcome });
  }
  return directives;
}

const REPAIR_DIRECTIVE = /\[sim-repair:([^\]=\s]+)=([^\]\s]+)\]/g;

/**
 * `[sim-repair:<model-or-*>=<ok-or-output-fault>]`: what that model's repair calls on this request
 * answer, whatever the repair success rate (a first call follows `[sim:…]` and the rates).
 */
export function parseRepairDirectives(goal: string): Directive[] {
  const directives: Directive[] = [];
  for (const [text, model, outcome] of goal.matchAll(REPAIR_DIRECTIVE)) {
    if (!isModelKey(model!)) throw new Error(`directive ${text}: unknown model "${model}"`);
    if (outcome !== 'ok' && !isOutputFault(outcome as Outcome)) throw new Error(`directive ${text}: a repair answers ok or an output fault (${OUTPUT_FAULTS.join(', ')}), not "${outcome}"`);
    directives.push({ model: model!, outcome: outcome as Outcome });
  }
  return directives;
}

export function stripDirectives(goal: string): string {
  return goal.replace(DIRECTIVE, ' ').replace(REPAIR_DIRECTIVE, ' ').replace(/\s+/g, ' ').trim();
}

/** The directive aimed at this model, the most specific one winning. */
export function forcedOutcome(directives: readonly Directive[], model: ModelSpec): Outcome | undefined {
  const byKey: Record<string, Outcome> = {};
  for (const d of directives) byKey[d.model] ??= d.outcome;
  return lookupPerModel(byKey, model);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
