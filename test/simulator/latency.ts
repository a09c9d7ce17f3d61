/** Base response latency: one number for every model, or a map keyed like the fault config. */
import type { ModelSpec } from '../../shared/models.ts';
import { isModelKey, lookupPerModel } from './catalog.ts';
import type { Rng } from './random.ts';

export type LatencyConfig = number | Record<string, number>;

/** Checks untrusted data (env, admin endpoint); the error message names the bad entry. */
export function parseLatencyConfig(data: unknown): LatencyConfig {
  if (typeof data === 'number') {
    if (!Number.isFinite(data) || data < 0) throw new Error('latency must be a non-negative number of milliseconds');
    return data;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('latency must be a number of milliseconds or a JSON object mapping model to milliseconds');
  const config: Record<string, number> = {};
  for (const [model, ms] of Object.entries(data)) {
    if (!isModelKey(model)) throw new Error(`latency: unknown model "${model}" (use a catalog id, an apiModel or "*")`);
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new Error(`latency: "${model}" must be a non-negative number of milliseconds`);
    config[model] = ms;
  }
  return config;
}

/** The model's base latency with ±10% jitter. */
export function latencyFor(config: LatencyConfig, model: ModelSpec, rng: Rng): number {
  const base = typeof config === 'number' ? config : (lookupPerModel(config, model) ?? 0);
  return base <= 0 ? 0 : Math.round(base * (0.9 + 0.2 * rng()));
}
