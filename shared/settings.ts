/**
 * The orchestrator's model settings: which model is primary, which is the fallback, and whether
 * fallback is on. Stored in system_settings_config; validated here so every writer and reader
 * agrees on what a good value is.
 */
import { ConfigurationError } from './errors.js';
import { assertPriced } from './money.js';
import { findModel, type ModelSpec } from './models.js';

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

export const DEFAULT_SETTINGS: OrchestratorSettings = Object.freeze({
  primaryModel: 'gpt-4o-mini',
  fallbackModel: 'claude-sonnet-4',
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
}

/** Throws ConfigurationError naming the bad setting; returns the settings with their models. */
export function resolveSettings(raw: { primaryModel: unknown; fallbackModel: unknown; enableFallback: unknown }): ResolvedSettings {
  const model = (key: string, id: unknown): ModelSpec => {
    const m = typeof id === 'string' ? findModel(id) : undefined;
    if (!m) throw new ConfigurationError('UNKNOWN_MODEL', `${key} = ${JSON.stringify(id)} is not a model in the catalog`);
    assertPriced(m);
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
  return { primaryModel: primary.id, fallbackModel: fallback.id, enableFallback: raw.enableFallback, primary, fallback };
}
