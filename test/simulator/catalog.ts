import { MODEL_CATALOG } from '../../shared/default-catalog.ts';
import type { ModelSpec, ProviderName } from '../../shared/models.ts';

/** What the simulator knows of a model it has no row for: served like the cheapest of its vendor. */
const TEMPLATES: Record<'openai' | 'anthropic', ModelSpec> = {
  openai: MODEL_CATALOG.find((m) => m.id === 'gpt-4o-mini')!,
  anthropic: MODEL_CATALOG.find((m) => m.id === 'claude-haiku-4-5')!,
};

/**
 * The model a request names: the shipped catalog's row (by catalog id or the vendor's dated
 * name), or, like a vendor serving a model the orchestrator has never heard of (an
 * openai-compatible endpoint's), a row made up for the name.
 */
export function resolveModel(name: unknown, provider: ProviderName): ModelSpec | undefined {
  if (typeof name !== 'string' || name === '') return undefined;
  const vendor = provider === 'anthropic' ? 'anthropic' : 'openai';
  const known = MODEL_CATALOG.find((m) => (m.provider === 'anthropic') === (vendor === 'anthropic') && (m.id === name || m.apiModel === name));
  return known ?? { ...TEMPLATES[vendor], id: name, apiModel: name, label: name, shutdownAt: null, temperature: 0.2 };
}

/** Retired models get the vendor's 404, like the real APIs after the shutdown date. */
export function isRetired(model: ModelSpec, now: number = Date.now()): boolean {
  return model.shutdownAt !== null && model.shutdownAt.getTime() <= now;
}

/** Reasoning models refuse `temperature` with a 400 (GPT-5 and later, o-series, Claude Opus 4.7 and later, Claude 5). */
export function isReasoningModel(model: ModelSpec): boolean {
  return /^(gpt-5|gpt-6|o\d)/.test(model.apiModel) || /^claude-(opus-4-[7-9]|opus-5|sonnet-5|haiku-5|fable|mythos)/.test(model.apiModel);
}

/** Per-model settings are keyed by catalog id, apiModel or '*', most specific first. */
export function lookupPerModel<T>(map: Readonly<Record<string, T>>, model: ModelSpec): T | undefined {
  for (const key of [model.id, model.apiModel, '*']) {
    if (Object.hasOwn(map, key)) return map[key];
  }
  return undefined;
}

/** Any model name may be configured (the simulator serves any name). */
export function isModelKey(key: string): boolean {
  return /^[A-Za-z0-9*][A-Za-z0-9._:*-]{0,99}$/.test(key);
}
