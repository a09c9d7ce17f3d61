/**
 * The orchestrator's model settings: which model is primary, which is the fallback, and whether
 * fallback is on. Stored in system_settings_config; validated here so every writer and reader
 * agrees on what a good value is.
 */
import { ConfigurationError } from './errors.ts';
import { assertPriced } from './money.ts';
import { type ModelCatalog, type ModelSpec, unavailability } from './models.ts';

export const SETTING_KEYS = {
  primaryModel: 'orchestrator_primary_model',
  fallbackModel: 'orchestrator_fallback_model',
  enableFallback: 'orchestrator_enable_fallback',
} as const;

export interface OrchestratorSettings {
  readonly primaryModel: string;
  readonly fallbackModel: string;
  readonly enableFallback: boolean;
}

/**
 * The seed's defaults wherever the vendor still serves the model: GPT-4o mini stays primary;
 * the seed's fallback, Claude Sonnet 4, was retired on 2026-06-15, so the default fallback is its
 * replacement per Anthropic's deprecation page, Claude Sonnet 4.6.
 */
export const DEFAULT_SETTINGS: OrchestratorSettings = Object.freeze({
  primaryModel: 'gpt-4o-mini',
  fallbackModel: 'claude-sonnet-4-6',
  enableFallback: true,
});

export const SETTING_DEFINITIONS = [
  { key: SETTING_KEYS.primaryModel, value: DEFAULT_SETTINGS.primaryModel, category: 'orchestrator', description: 'Primary AI model for workflow generation' },
  { key: SETTING_KEYS.fallbackModel, value: DEFAULT_SETTINGS.fallbackModel, category: 'orchestrator', description: 'Fallback AI model when primary fails validation' },
  { key: SETTING_KEYS.enableFallback, value: DEFAULT_SETTINGS.enableFallback, category: 'orchestrator', description: 'Enable automatic fallback to secondary model' },
] as const;

export interface ResolvedSettings extends OrchestratorSettings {
  readonly primary: ModelSpec;
  readonly fallback: ModelSpec;
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

/** Throws ConfigurationError naming the bad setting; returns the settings with their models. */
export function resolveSettings(raw: { primaryModel: unknown; fallbackModel: unknown; enableFallback: unknown }, catalog: ModelCatalog, options: ResolveOptions = {}): ResolvedSettings {
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
  return { primaryModel: primary.id, fallbackModel: fallback.id, enableFallback: raw.enableFallback, primary, fallback, catalog };
}
