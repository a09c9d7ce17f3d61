import { MODEL_CATALOG, type ModelSpec, type ProviderName } from '../../shared/models.js';

/** The catalog model a request names, by catalog id or by the vendor's dated name. */
export function resolveModel(name: unknown, provider: ProviderName): ModelSpec | undefined {
  if (typeof name !== 'string') return undefined;
  return MODEL_CATALOG.find((m) => m.provider === provider && (m.id === name || m.apiModel === name));
}

/** Per-model settings are keyed by catalog id, apiModel or '*', most specific first. */
export function lookupPerModel<T>(map: Readonly<Record<string, T>>, model: ModelSpec): T | undefined {
  for (const key of [model.id, model.apiModel, '*']) {
    if (Object.hasOwn(map, key)) return map[key];
  }
  return undefined;
}

export function isModelKey(key: string): boolean {
  return key === '*' || MODEL_CATALOG.some((m) => m.id === key || m.apiModel === key);
}
