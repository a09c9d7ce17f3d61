/**
 * The model catalog: every model the orchestrator may be configured to use, with its price, its
 * request parameters and its lifecycle. The catalog is data (the `model_catalog` table, filled
 * from db/model-catalog.json by `npm run db:init` and changed through the admin API); this module
 * holds its types and the immutable catalog object the rest of the code reads.
 * Prices are decimal strings in USD per million tokens so that cost arithmetic stays exact
 * (see money.ts); a model that is not in the catalog cannot be configured.
 */
export const PROVIDERS = ['openai', 'anthropic', 'openai-compatible'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** How the workflow's shape is asked for; Ajv checks the answer whatever the mode. */
export const STRUCTURED_OUTPUT_MODES = ['json_schema', 'tool', 'json_object', 'prompt'] as const;
export type StructuredOutputMode = (typeof STRUCTURED_OUTPUT_MODES)[number];

export const TOKEN_LIMIT_PARAMS = ['max_tokens', 'max_completion_tokens'] as const;
export type TokenLimitParam = (typeof TOKEN_LIMIT_PARAMS)[number];

export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

export interface ModelPricing {
  /** USD per 1M uncached input tokens. */
  readonly inputPerMTok: string;
  /** USD per 1M output tokens. */
  readonly outputPerMTok: string;
  /** USD per 1M input tokens served from the vendor's prompt cache. */
  readonly cachedInputPerMTok: string;
  /** USD per 1M input tokens written to the prompt cache. */
  readonly cacheWritePerMTok: string;
}

export interface ModelSpec {
  /** The orchestrator's name, used in settings, attempt and audit rows. */
  readonly id: string;
  readonly provider: ProviderName;
  /** The name the vendor's API expects. */
  readonly apiModel: string;
  readonly label: string;
  readonly description: string;
  /** Null: the provider's URL from the environment (OPENAI_BASE_URL, ANTHROPIC_BASE_URL). */
  readonly baseUrl: string | null;
  /** The environment variable holding the key; null: the provider's (OPENAI_API_KEY, ANTHROPIC_API_KEY). */
  readonly apiKeyEnv: string | null;
  readonly structuredOutput: StructuredOutputMode;
  /** Null: not sent (reasoning models refuse it). */
  readonly temperature: number | null;
  readonly tokenLimitParam: TokenLimitParam;
  readonly reasoningEffort: ReasoningEffort | null;
  readonly pricing: ModelPricing;
  /** Where the prices were read, and on which day (YYYY-MM-DD). */
  readonly priceSourceUrl: string | null;
  readonly priceReadAt: string | null;
  readonly contextWindowTokens: number;
  readonly maxOutputTokens: number;
  /** Default per-attempt timeout; MODEL_TIMEOUTS_MS overrides it. */
  readonly timeoutMs: number;
  readonly deprecatedAt: Date | null;
  /** When the vendor stops serving the model; from then on it cannot be configured. */
  readonly shutdownAt: Date | null;
  readonly replacementId: string | null;
  /** Where the lifecycle dates were read. */
  readonly lifecycleSourceUrl: string | null;
  readonly enabled: boolean;
}

/** Why a model cannot be newly configured at `now`, or null when it can. */
export function unavailability(model: ModelSpec, now: Date): 'disabled' | 'retired' | null {
  if (!model.enabled) return 'disabled';
  if (model.shutdownAt && model.shutdownAt.getTime() <= now.getTime()) return 'retired';
  return null;
}

/** An immutable set of models, looked up by id. */
export class ModelCatalog {
  private readonly byId: ReadonlyMap<string, ModelSpec>;

  readonly models: readonly ModelSpec[];

  constructor(models: readonly ModelSpec[]) {
    this.models = models;
    this.byId = new Map(models.map((m) => [m.id, m]));
  }

  find(id: string): ModelSpec | undefined {
    return this.byId.get(id);
  }

  has(id: unknown): boolean {
    return typeof id === 'string' && this.byId.has(id);
  }

  get size(): number {
    return this.models.length;
  }

  /** The model's replacement, followed while it is retired itself (bounded against cycles). */
  replacementOf(model: ModelSpec): ModelSpec | undefined {
    let next = model.replacementId ? this.find(model.replacementId) : undefined;
    for (let i = 0; next && next.replacementId && next.shutdownAt && next.shutdownAt.getTime() <= Date.now() && i < 5; i++) {
      next = this.find(next.replacementId) ?? next;
    }
    return next;
  }
}
