/**
 * The model catalog: every model the orchestrator may be configured to use, with its price.
 * Prices are decimal strings in USD per million tokens so that cost arithmetic stays exact
 * (see money.ts); a model that is not here cannot be configured.
 */
export type ProviderName = 'openai' | 'anthropic';

export interface ModelPricing {
  /** USD per 1M uncached input tokens. */
  readonly inputPerMTok: string;
  /** USD per 1M output tokens. */
  readonly outputPerMTok: string;
  /** USD per 1M input tokens served from the vendor's prompt cache. */
  readonly cachedInputPerMTok: string;
  /** USD per 1M input tokens written to the prompt cache (Anthropic only; OpenAI caches for free). */
  readonly cacheWritePerMTok: string;
}

export interface ModelSpec {
  readonly id: string;
  readonly provider: ProviderName;
  /** The name the vendor's API expects. */
  readonly apiModel: string;
  readonly label: string;
  readonly pricing: ModelPricing;
  readonly contextWindowTokens: number;
  readonly maxOutputTokens: number;
  /** Default per-attempt timeout; MODEL_TIMEOUTS_MS overrides it. */
  readonly timeoutMs: number;
  readonly description: string;
}

const catalog = [
  {
    id: 'gpt-4o-mini',
    provider: 'openai',
    apiModel: 'gpt-4o-mini-2024-07-18',
    label: 'GPT-4o mini',
    pricing: { inputPerMTok: '0.15', outputPerMTok: '0.60', cachedInputPerMTok: '0.075', cacheWritePerMTok: '0.15' },
    contextWindowTokens: 128_000,
    maxOutputTokens: 16_384,
    timeoutMs: 30_000,
    description: 'Cheap and fast; the recommended primary. Structured outputs keep it on the schema most of the time.',
  },
  {
    id: 'gpt-4o',
    provider: 'openai',
    apiModel: 'gpt-4o-2024-08-06',
    label: 'GPT-4o',
    pricing: { inputPerMTok: '2.50', outputPerMTok: '10.00', cachedInputPerMTok: '1.25', cacheWritePerMTok: '2.50' },
    contextWindowTokens: 128_000,
    maxOutputTokens: 16_384,
    timeoutMs: 45_000,
    description: 'Stronger OpenAI model at about 17x the price of GPT-4o mini.',
  },
  {
    id: 'gpt-4.1-mini',
    provider: 'openai',
    apiModel: 'gpt-4.1-mini-2025-04-14',
    label: 'GPT-4.1 mini',
    pricing: { inputPerMTok: '0.40', outputPerMTok: '1.60', cachedInputPerMTok: '0.10', cacheWritePerMTok: '0.40' },
    contextWindowTokens: 1_047_576,
    maxOutputTokens: 32_768,
    timeoutMs: 30_000,
    description: 'Newer small OpenAI model; better instruction following than GPT-4o mini at about 2.7x the price.',
  },
  {
    id: 'gpt-4.1',
    provider: 'openai',
    apiModel: 'gpt-4.1-2025-04-14',
    label: 'GPT-4.1',
    pricing: { inputPerMTok: '2.00', outputPerMTok: '8.00', cachedInputPerMTok: '0.50', cacheWritePerMTok: '2.00' },
    contextWindowTokens: 1_047_576,
    maxOutputTokens: 32_768,
    timeoutMs: 60_000,
    description: 'Large OpenAI model; a possible fallback when staying with one vendor.',
  },
  {
    id: 'claude-sonnet-4',
    provider: 'anthropic',
    apiModel: 'claude-sonnet-4-20250514',
    label: 'Claude Sonnet 4',
    pricing: { inputPerMTok: '3.00', outputPerMTok: '15.00', cachedInputPerMTok: '0.30', cacheWritePerMTok: '3.75' },
    contextWindowTokens: 200_000,
    maxOutputTokens: 64_000,
    timeoutMs: 60_000,
    description: 'High quality, about 30x the price of GPT-4o mini; the recommended fallback.',
  },
  {
    id: 'claude-3-5-haiku',
    provider: 'anthropic',
    apiModel: 'claude-3-5-haiku-20241022',
    label: 'Claude 3.5 Haiku',
    pricing: { inputPerMTok: '0.80', outputPerMTok: '4.00', cachedInputPerMTok: '0.08', cacheWritePerMTok: '1.00' },
    contextWindowTokens: 200_000,
    maxOutputTokens: 8_192,
    timeoutMs: 30_000,
    description: 'Fast Anthropic model; a cheaper fallback when Sonnet is more than needed.',
  },
  {
    id: 'claude-haiku-4-5',
    provider: 'anthropic',
    apiModel: 'claude-haiku-4-5-20251001',
    label: 'Claude Haiku 4.5',
    pricing: { inputPerMTok: '1.00', outputPerMTok: '5.00', cachedInputPerMTok: '0.10', cacheWritePerMTok: '1.25' },
    contextWindowTokens: 200_000,
    maxOutputTokens: 64_000,
    timeoutMs: 30_000,
    description: 'Current small Anthropic model, near Sonnet 4 quality on structured tasks.',
  },
  {
    id: 'claude-opus-4-1',
    provider: 'anthropic',
    apiModel: 'claude-opus-4-1-20250805',
    label: 'Claude Opus 4.1',
    pricing: { inputPerMTok: '15.00', outputPerMTok: '75.00', cachedInputPerMTok: '1.50', cacheWritePerMTok: '18.75' },
    contextWindowTokens: 200_000,
    maxOutputTokens: 32_000,
    timeoutMs: 120_000,
    description: 'Most capable and most expensive; rarely worth it for workflow generation.',
  },
] as const satisfies readonly ModelSpec[];

export type ModelId = (typeof catalog)[number]['id'];

export const MODEL_CATALOG: readonly ModelSpec[] = catalog;

const byId = new Map<string, ModelSpec>(catalog.map((m) => [m.id, m]));

export function findModel(id: string): ModelSpec | undefined {
  return byId.get(id);
}

export function isKnownModel(id: unknown): id is ModelId {
  return typeof id === 'string' && byId.has(id);
}
