/**
 * The orchestrator's model settings: which model is primary, the escalation ladder after it (the
 * fallback chain, whose first step is the seed's fallback model), whether fallback is on, how
 * often a model is re-asked with its own validation errors, and the cost cap of one request.
 * Stored in system_settings_config; validated here so every writer and reader agrees on what a
 * good value is.
 */
import { ConfigurationError, type FieldError } from './errors.ts';
import { assertPriced, parseUsd, type Picodollars } from './money.ts';
import { type ModelCatalog, type ModelSpec, unavailability } from './models.ts';

export const SETTING_KEYS = {
  primaryModel: 'orchestrator_primary_model',
  fallbackModel: 'orchestrator_fallback_model',
  enableFallback: 'orchestrator_enable_fallback',
  fallbackChain: 'orchestrator_fallback_chain',
  repairAttempts: 'orchestrator_repair_attempts',
  maxCostPerRequestUsd: 'orchestrator_max_cost_per_request_usd',
} as const;

/** At most this many models after the primary: each step costs a hand-over and a worst-case price. */
export const MAX_FALLBACK_CHAIN = 5;
export const MAX_REPAIR_ATTEMPTS = 3;

/** The ladder's settings: each optional in a stored snapshot or a write, where its absence keeps the seed's behaviour. */
export interface LadderSettings {
  /** The models tried after the primary, in order; the first is always `fallbackModel`. */
  readonly fallbackChain: readonly string[];
  /** How often (0-3) a model is re-asked with its own validation errors before the ladder moves on. */
  readonly repairAttempts: number;
  /** An exact positive USD amount; null: no cap. */
  readonly maxCostPerRequestUsd: string | null;
}

/**
 * The settings as stored and as a job's snapshot carries them. The seed's three keys are
 * required; a snapshot or write without the ladder's keys means a chain of the fallback model
 * alone, no repair and no cap (a job enqueued before the ladder existed runs as it did).
 */
export interface OrchestratorSettings extends Partial<LadderSettings> {
  readonly primaryModel: string;
  readonly fallbackModel: string;
  readonly enableFallback: boolean;
}

/** Every setting present. */
export type CompleteSettings = OrchestratorSettings & LadderSettings;

/**
 * The seed's defaults wherever the vendor still serves the model: GPT-4o mini stays primary;
 * the seed's fallback, Claude Sonnet 4, was retired on 2026-06-15, so the default fallback is its
 * replacement per Anthropic's deprecation page, Claude Sonnet 4.6.
 */
export const DEFAULT_SETTINGS: CompleteSettings = Object.freeze({
  primaryModel: 'gpt-4o-mini',
  fallbackModel: 'claude-sonnet-4-6',
  enableFallback: true,
  fallbackChain: Object.freeze(['claude-sonnet-4-6']),
  repairAttempts: 0,
  maxCostPerRequestUsd: null,
});

export const SETTING_DEFINITIONS = [
  { key: SETTING_KEYS.primaryModel, value: DEFAULT_SETTINGS.primaryModel, category: 'orchestrator', description: 'Primary AI model for workflow generation' },
  { key: SETTING_KEYS.fallbackModel, value: DEFAULT_SETTINGS.fallbackModel, category: 'orchestrator', description: 'Fallback AI model when primary fails validation' },
  { key: SETTING_KEYS.enableFallback, value: DEFAULT_SETTINGS.enableFallback, category: 'orchestrator', description: 'Enable automatic fallback to secondary model' },
  { key: SETTING_KEYS.fallbackChain, value: DEFAULT_SETTINGS.fallbackChain, category: 'orchestrator', description: 'Models tried in order after the primary; the first is always the fallback model' },
  { key: SETTING_KEYS.repairAttempts, value: DEFAULT_SETTINGS.repairAttempts, category: 'orchestrator', description: 'How often (0-3) a model is re-asked with its own validation errors before the ladder moves on' },
  // jsonb NOT NULL: the empty string stores "no cap".
  { key: SETTING_KEYS.maxCostPerRequestUsd, value: '', category: 'orchestrator', description: 'Worst-case cost in USD a request may reach; empty: no cap' },
] as const;

export interface ResolvedSettings extends CompleteSettings {
  readonly primary: ModelSpec;
  readonly fallback: ModelSpec;
  /** The fallback chain's models, in order (the first is `fallback`). */
  readonly chain: readonly ModelSpec[];
  /** The catalog the models were resolved in. */
  readonly catalog: ModelCatalog;
}

export interface ResolveOptions {
  /**
   * Set for a change being made (the admin API): a disabled model, or one past its shutdown,
   * is refused, naming its replacement. Left unset when reading what is stored, so a database
   * that names a retired model keeps working (its calls fail and hand over) and is reported.
   */
  readonly newlyConfiguredAt?: Date;
}

/** Why a model cannot be configured, naming its replacement. */
export function unavailableMessage(key: string, model: ModelSpec, catalog: ModelCatalog, now: Date): string | null {
  const why = unavailability(model, now);
  if (why === null) return null;
  const replacement = catalog.replacementOf(model);
  const instead = replacement ? `; its replacement is ${JSON.stringify(replacement.id)} (${replacement.label})` : '; the catalog names no replacement';
  return why === 'disabled'
    ? `${key} = ${JSON.stringify(model.id)} is disabled in the catalog${instead}`
    : `${key} = ${JSON.stringify(model.id)} was retired by its vendor on ${model.shutdownAt!.toISOString().slice(0, 10)}${instead}`;
}

/** Settings as read from storage or a snapshot: nothing checked yet. */
export interface RawSettings {
  readonly primaryModel: unknown;
  readonly fallbackModel: unknown;
  readonly enableFallback: unknown;
  readonly fallbackChain?: unknown;
  readonly repairAttempts?: unknown;
  readonly maxCostPerRequestUsd?: unknown;
}

/**
 * A change of the settings. The seed's three keys still make a whole write; a key left out keeps
 * its stored value. The fallback model and the chain's first step are one setting under two
 * names: either may be sent, and both sent must agree.
 */
export interface SettingsWrite {
  readonly primaryModel: string;
  readonly fallbackModel?: string;
  readonly enableFallback: boolean;
  readonly fallbackChain?: readonly string[];
  readonly repairAttempts?: number;
  /** A positive USD amount (an exact decimal string, or a JSON number); null or '': no cap. */
  readonly maxCostPerRequestUsd?: string | number | null;
}

/** The chain with `head` as its first step: a write to the fallback model moves the chain's head with it. */
export function chainWithHead(chain: readonly string[], head: string): string[] {
  return [head, ...chain.slice(1).filter((id) => id !== head)];
}

/** The cost cap as a decimal string (null: none), or why the value is not one. */
export function parseCostCap(value: unknown): { readonly usd: string | null } | { readonly problem: string } {
  if (value === null || value === undefined || value === '') return { usd: null };
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || !/^\d+(\.\d{1,12})?$/.test(text.trim())) {
    return { problem: `must be empty or a positive USD amount with at most 12 decimals, got ${JSON.stringify(value)}` };
  }
  if (parseUsd(text) <= 0n) return { problem: `must be empty or above 0, got ${JSON.stringify(value)}` };
  return { usd: text.trim() };
}

/** The cap of one request in picodollars; null: no cap. */
export function costCapOf(settings: Pick<LadderSettings, 'maxCostPerRequestUsd'>): Picodollars | null {
  return settings.maxCostPerRequestUsd === null ? null : parseUsd(settings.maxCostPerRequestUsd);
}

const PATH_KEYS: Record<string, string> = {
  primaryModel: SETTING_KEYS.primaryModel,
  fallbackModel: SETTING_KEYS.fallbackModel,
  enableFallback: SETTING_KEYS.enableFallback,
  fallbackChain: SETTING_KEYS.fallbackChain,
  repairAttempts: SETTING_KEYS.repairAttempts,
  maxCostPerRequestUsd: SETTING_KEYS.maxCostPerRequestUsd,
};

/** The stored key a field error's JSON pointer names (`/fallbackChain/2` → orchestrator_fallback_chain). */
export function settingKeyOf(path: string): string {
  return PATH_KEYS[path.split('/')[1] ?? ''] ?? path;
}

/**
 * What is wrong with the ladder's settings, field by field: the chain (a list of 1 to
 * MAX_FALLBACK_CHAIN priced catalog models, no duplicates, not the primary while fallback is on),
 * the repair attempts and the cost cap. Empty when they are good.
 */
export function ladderErrors(s: { readonly primaryModel: unknown; readonly enableFallback: unknown; readonly fallbackChain: unknown; readonly repairAttempts: unknown; readonly maxCostPerRequestUsd: unknown }, catalog: ModelCatalog): FieldError[] {
  const errors: FieldError[] = [];
  const chain = s.fallbackChain;
  if (!Array.isArray(chain) || chain.length === 0 || chain.length > MAX_FALLBACK_CHAIN) {
    errors.push({ path: '/fallbackChain', code: 'invalid_chain', message: `must list 1 to ${MAX_FALLBACK_CHAIN} catalog models, got ${JSON.stringify(chain)}` });
  } else {
    const seen = new Set<unknown>();
    chain.forEach((id: unknown, i) => {
      const path = `/fallbackChain/${i}`;
      const model = typeof id === 'string' ? catalog.find(id) : undefined;
      if (!model) errors.push({ path, code: 'unknown_model', message: `${JSON.stringify(id)} is not a model in the catalog` });
      else if (seen.has(id)) errors.push({ path, code: 'duplicate_model', message: `${JSON.stringify(id)} is already step ${chain.indexOf(id) + 1} of the chain` });
      else if (s.enableFallback === true && id === s.primaryModel) errors.push({ path, code: 'same_as_primary', message: `${JSON.stringify(id)} is the primary model; the chain holds the models tried after it` });
      else {
        try {
          assertPriced(model);
        } catch (err) {
          errors.push({ path, code: 'unpriced', message: (err as Error).message });
        }
      }
      seen.add(id);
    });
  }
  const r = s.repairAttempts;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r > MAX_REPAIR_ATTEMPTS) {
    errors.push({ path: '/repairAttempts', code: 'out_of_range', message: `must be a whole number from 0 to ${MAX_REPAIR_ATTEMPTS}, got ${JSON.stringify(r)}` });
  }
  const cap = parseCostCap(s.maxCostPerRequestUsd);
  if ('problem' in cap) errors.push({ path: '/maxCostPerRequestUsd', code: 'invalid_amount', message: cap.problem });
  return errors;
}

/**
 * A write merged onto the stored settings: keys left out keep their stored value, and the
 * fallback model and the chain's head stay one. Returns what would be stored, or the field
 * errors of a write that names the head twice, differently, or not at all.
 */
export function mergeSettingsWrite(next: SettingsWrite, stored: RawSettings): { readonly settings: RawSettings; readonly errors: FieldError[] } {
  const errors: FieldError[] = [];
  const head = next.fallbackModel ?? next.fallbackChain?.[0];
  if (head === undefined) errors.push({ path: '/fallbackModel', code: 'required', message: 'send fallbackModel, fallbackChain or both' });
  if (next.fallbackModel !== undefined && next.fallbackChain !== undefined && next.fallbackChain[0] !== next.fallbackModel) {
    errors.push({ path: '/fallbackChain/0', code: 'chain_head_mismatch', message: `the chain's first step is the fallback model: ${JSON.stringify(next.fallbackChain[0])} differs from fallbackModel ${JSON.stringify(next.fallbackModel)}` });
  }
  const storedChain = Array.isArray(stored.fallbackChain) ? (stored.fallbackChain as unknown[]).filter((id): id is string => typeof id === 'string') : [];
  const fallbackChain = next.fallbackChain ?? (head === undefined ? storedChain : chainWithHead(storedChain.length > 0 ? storedChain : [head], head));
  return {
    settings: {
      primaryModel: next.primaryModel,
      fallbackModel: head ?? stored.fallbackModel,
      enableFallback: next.enableFallback,
      fallbackChain,
      repairAttempts: next.repairAttempts ?? stored.repairAttempts ?? DEFAULT_SETTINGS.repairAttempts,
      maxCostPerRequestUsd: next.maxCostPerRequestUsd !== undefined ? next.maxCostPerRequestUsd : (stored.maxCostPerRequestUsd ?? null),
    },
    errors,
  };
}

/** The models a request may call with these settings, in ladder order: the primary, then the chain while fallback is on. */
export function configuredModels(s: ResolvedSettings): readonly { readonly role: 'primary' | 'fallback'; readonly step: number; readonly model: ModelSpec }[] {
  return [{ role: 'primary' as const, step: 0, model: s.primary }, ...(s.enableFallback ? s.chain.map((model, i) => ({ role: 'fallback' as const, step: i + 1, model })) : [])];
}

/** The settings a job carries with it: every key, so each step of one request runs with one set. */
export function settingsSnapshot(s: ResolvedSettings): CompleteSettings {
  return {
    primaryModel: s.primaryModel,
    fallbackModel: s.fallbackModel,
    enableFallback: s.enableFallback,
    fallbackChain: [...s.fallbackChain],
    repairAttempts: s.repairAttempts,
    maxCostPerRequestUsd: s.maxCostPerRequestUsd,
  };
}

/**
 * Throws ConfigurationError naming the bad setting; returns the settings with their models.
 * Ladder keys that are missing (a snapshot from before the ladder, a database not yet re-inited)
 * take the seed's behaviour; a stored chain whose head is not the fallback model (a hand edit in
 * SQL) gets the fallback model as its head, as a write of the fallback model would have done.
 */
export function resolveSettings(raw: RawSettings, catalog: ModelCatalog, options: ResolveOptions = {}): ResolvedSettings {
  const model = (key: string, id: unknown): ModelSpec => {
    const m = typeof id === 'string' ? catalog.find(id) : undefined;
    if (!m) throw new ConfigurationError('UNKNOWN_MODEL', `${key} = ${JSON.stringify(id)} is not a model in the catalog`);
    assertPriced(m);
    if (options.newlyConfiguredAt) {
      const problem = unavailableMessage(key, m, catalog, options.newlyConfiguredAt);
      if (problem) throw new ConfigurationError('UNKNOWN_MODEL', problem);
    }
    return m;
  };
  const primary = model(SETTING_KEYS.primaryModel, raw.primaryModel);
  const fallback = model(SETTING_KEYS.fallbackModel, raw.fallbackModel);
  if (typeof raw.enableFallback !== 'boolean') {
    throw new ConfigurationError('INVALID_SETTINGS', `${SETTING_KEYS.enableFallback} must be true or false, got ${JSON.stringify(raw.enableFallback)}`);
  }
  if (raw.enableFallback && primary.id === fallback.id) {
    throw new ConfigurationError('INVALID_SETTINGS', `${SETTING_KEYS.fallbackModel} must differ from ${SETTING_KEYS.primaryModel} while fallback is enabled (both are ${primary.id})`);
  }
  const rawChain = raw.fallbackChain === undefined ? [fallback.id] : raw.fallbackChain;
  const ladder = {
    primaryModel: primary.id,
    enableFallback: raw.enableFallback,
    fallbackChain: Array.isArray(rawChain) && rawChain.length > 0 && rawChain.every((id) => typeof id === 'string') ? chainWithHead(rawChain as string[], fallback.id) : rawChain,
    repairAttempts: raw.repairAttempts === undefined ? DEFAULT_SETTINGS.repairAttempts : raw.repairAttempts,
    maxCostPerRequestUsd: raw.maxCostPerRequestUsd,
  };
  const [problem] = ladderErrors(ladder, catalog);
  if (problem) throw new ConfigurationError(problem.code === 'unknown_model' ? 'UNKNOWN_MODEL' : 'INVALID_SETTINGS', `${settingKeyOf(problem.path)}${problem.path.split('/')[2] !== undefined ? ` step ${Number(problem.path.split('/')[2]) + 1}` : ''} ${problem.message}`);
  const fallbackChain = ladder.fallbackChain as string[];
  const chain = fallbackChain.map((id, i) => (i === 0 ? fallback : model(SETTING_KEYS.fallbackChain, id)));
  const cap = parseCostCap(raw.maxCostPerRequestUsd) as { usd: string | null };
  return {
    primaryModel: primary.id,
    fallbackModel: fallback.id,
    enableFallback: raw.enableFallback,
    fallbackChain,
    repairAttempts: ladder.repairAttempts as number,
    maxCostPerRequestUsd: cap.usd,
    primary,
    fallback,
    chain,
    catalog,
  };
}
