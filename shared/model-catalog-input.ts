/**
 * The catalog row as written by people: the default file (db/model-catalog.json), the admin API
 * (`PUT /v1/admin/models/{id}`) and the table all use this snake_case document. One parser turns
 * it into a ModelSpec and names the field of every problem, so a bad row never reaches a worker.
 */
import type { FieldError } from './errors.ts';
import { OrchestratorError } from './errors.ts';
import { parseUsd } from './money.ts';
import {
  type ModelSpec,
  PROVIDERS,
  type ProviderName,
  REASONING_EFFORTS,
  type ReasoningEffort,
  STRUCTURED_OUTPUT_MODES,
  type StructuredOutputMode,
  TOKEN_LIMIT_PARAMS,
  type TokenLimitParam,
} from './models.ts';

export interface ModelDocument {
  id: string;
  provider: ProviderName;
  api_model: string;
  label: string;
  description: string;
  base_url: string | null;
  api_key_env: string | null;
  structured_output: StructuredOutputMode;
  temperature: number | null;
  token_limit_param: TokenLimitParam;
  reasoning_effort: ReasoningEffort | null;
  price_input_per_mtok: string;
  price_output_per_mtok: string;
  price_cached_input_per_mtok: string;
  price_cache_write_per_mtok: string;
  price_source_url: string | null;
  price_read_at: string | null;
  context_window_tokens: number;
  max_output_tokens: number;
  timeout_ms: number;
  deprecated_at: string | null;
  shutdown_at: string | null;
  replacement_id: string | null;
  lifecycle_source_url: string | null;
  enabled: boolean;
}

export const MODEL_DOCUMENT_FIELDS = [
  'id', 'provider', 'api_model', 'label', 'description', 'base_url', 'api_key_env', 'structured_output', 'temperature', 'token_limit_param',
  'reasoning_effort', 'price_input_per_mtok', 'price_output_per_mtok', 'price_cached_input_per_mtok', 'price_cache_write_per_mtok',
  'price_source_url', 'price_read_at', 'context_window_tokens', 'max_output_tokens', 'timeout_ms', 'deprecated_at', 'shutdown_at',
  'replacement_id', 'lifecycle_source_url', 'enabled',
] as const satisfies readonly (keyof ModelDocument)[];

/** A catalog row that cannot be used; `errors` names each bad field. */
export class InvalidModelError extends OrchestratorError {
  readonly modelId: string;
  readonly errors: readonly FieldError[];

  constructor(modelId: string, errors: readonly FieldError[]) {
    super('INVALID_CONFIG', `model ${JSON.stringify(modelId)}: ${errors.map((e) => `${e.path.slice(1)}: ${e.message}`).join('; ')}`, errors);
    this.modelId = modelId;
    this.errors = errors;
  }
}

const ID = /^[a-z0-9][a-z0-9._:-]{0,99}$/i;
/** An environment variable's name; a key pasted here (sk-…, spaces, lower case) is refused. */
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Lifecycle dates: a day (midnight UTC) or a full ISO timestamp. */
function parseInstant(text: string): Date | null {
  if (!DATE.test(text) && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return null;
  const d = new Date(DATE.test(text) ? `${text}T00:00:00Z` : text);
  return Number.isNaN(d.getTime()) ? null : d;
}

class Reader {
  readonly errors: FieldError[] = [];
  private readonly doc: Record<string, unknown>;

  constructor(doc: Record<string, unknown>) {
    this.doc = doc;
  }

  fail(field: string, code: string, message: string): void {
    this.errors.push({ path: `/${field}`, code, message });
  }

  /** A present value, or undefined after recording `required`. */
  private value(field: string, optional: boolean): unknown {
    const v = this.doc[field];
    if ((v === undefined || v === null || v === '') && !optional) this.fail(field, 'required', 'is required');
    return v === '' ? null : v;
  }

  text(field: string, max: number, optional = false): string | null {
    const v = this.value(field, optional);
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || v.length > max) {
      this.fail(field, 'type', `must be a string of at most ${max} characters`);
      return null;
    }
    return v;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[], optional = false): T | null {
    const v = this.value(field, optional);
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(field, 'enum', `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
      return null;
    }
    return v as T;
  }

  int(field: string, min: number, max: number): number {
    const v = this.value(field, false);
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, 'range', `must be a whole number between ${min} and ${max}, got ${JSON.stringify(v)}`);
      return 0;
    }
    return v;
  }

  /** An exact, non-negative USD amount per 1M tokens, with at most 6 decimals. */
  price(field: string): string {
    const v = this.value(field, false);
    if (v === undefined || v === null) return '0';
    const text = typeof v === 'number' ? String(v) : v;
    if (typeof text !== 'string' || !/^\d+(\.\d{1,6})?$/.test(text.trim())) {
      const negative = (typeof v === 'number' && v < 0) || (typeof v === 'string' && v.trim().startsWith('-'));
      this.fail(field, negative ? 'negative' : 'price', negative ? 'must not be negative' : 'must be a decimal string of USD per 1M tokens with at most 6 decimals, such as "0.15"');
      return '0';
    }
    parseUsd(text);
    return text.trim();
  }

  url(field: string): string | null {
    const v = this.text(field, 2_000, true);
    if (v === null) return null;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      this.fail(field, 'url', `is not a URL: ${JSON.stringify(v)}`);
      return null;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      this.fail(field, 'url', `must be an http or https URL, got ${u.protocol}`);
      return null;
    }
    return v;
  }

  instant(field: string): Date | null {
    const v = this.text(field, 40, true);
    if (v === null) return null;
    const d = parseInstant(v);
    if (!d) this.fail(field, 'date', `must be a date (YYYY-MM-DD) or an ISO timestamp, got ${JSON.stringify(v)}`);
    return d;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.doc[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      this.fail(field, 'type', 'must be true or false');
      return fallback;
    }
    return v;
  }
}

/**
 * Parses one catalog row. `pathId` is the id the row is stored under (the URL's, for the API);
 * a body naming another id is refused. Throws InvalidModelError naming every bad field.
 */
export function parseModelDocument(input: unknown, pathId?: string): ModelSpec {
  const fallbackId = pathId ?? '?';
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidModelError(fallbackId, [{ path: '', code: 'type', message: 'must be a JSON object' }]);
  }
  const doc = input as Record<string, unknown>;
  const r = new Reader(doc);
  const unknownFields = Object.keys(doc).filter((k) => !(MODEL_DOCUMENT_FIELDS as readonly string[]).includes(k));
  for (const k of unknownFields) r.fail(k, 'unknown_field', 'is not a catalog field');

  const id = pathId ?? r.text('id', 100) ?? '?';
  if (!ID.test(id)) r.fail('id', 'id', 'must be 1-100 letters, digits and . _ : -, starting with a letter or digit');
  if (pathId !== undefined && doc.id !== undefined && doc.id !== pathId) r.fail('id', 'mismatch', `must match the id in the path (${pathId})`);
  const provider = r.oneOf('provider', PROVIDERS);
  const structuredOutput = r.oneOf('structured_output', STRUCTURED_OUTPUT_MODES);
  const reasoningEffort = r.oneOf('reasoning_effort', REASONING_EFFORTS, true);
  const apiKeyEnv = r.text('api_key_env', 128, true);
  if (apiKeyEnv !== null && !ENV_NAME.test(apiKeyEnv)) {
    r.fail('api_key_env', 'env_name', 'must be the NAME of an environment variable (upper case, digits, _), never the key itself');
  }
  const baseUrl = r.url('base_url');
  if (provider === 'openai-compatible' && baseUrl === null) r.fail('base_url', 'required', 'is required for openai-compatible models');
  if (provider === 'openai-compatible' && apiKeyEnv === null) r.fail('api_key_env', 'required', 'is required for openai-compatible models');
  if (provider === 'anthropic' && structuredOutput !== null && structuredOutput !== 'tool' && structuredOutput !== 'prompt') {
    r.fail('structured_output', 'enum', 'anthropic models take tool or prompt');
  }
  if (provider === 'anthropic' && reasoningEffort !== null) r.fail('reasoning_effort', 'unsupported', 'is sent to Chat Completions models only');
  let temperature: number | null = null;
  const t = doc.temperature;
  if (t !== undefined && t !== null && t !== '') {
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 2) r.fail('temperature', 'range', 'must be a number between 0 and 2, or empty (not sent)');
    else temperature = t;
  }
  const priceReadAt = r.text('price_read_at', 10, true);
  if (priceReadAt !== null && !parseInstant(priceReadAt)) r.fail('price_read_at', 'date', 'must be a date (YYYY-MM-DD)');
  const replacementId = r.text('replacement_id', 100, true);
  if (replacementId !== null && replacementId === id) r.fail('replacement_id', 'self', 'must name another model');
  const pricing = {
    inputPerMTok: r.price('price_input_per_mtok'),
    outputPerMTok: r.price('price_output_per_mtok'),
    cachedInputPerMTok: r.price('price_cached_input_per_mtok'),
    cacheWritePerMTok: r.price('price_cache_write_per_mtok'),
  };
  if (r.errors.every((e) => !e.path.startsWith('/price_input')) && parseUsd(pricing.inputPerMTok) === 0n) r.fail('price_input_per_mtok', 'unpriced', 'must be above 0: an unpriced model is never a silent $0');
  if (r.errors.every((e) => !e.path.startsWith('/price_output')) && parseUsd(pricing.outputPerMTok) === 0n) r.fail('price_output_per_mtok', 'unpriced', 'must be above 0: an unpriced model is never a silent $0');
  const spec: ModelSpec = {
    id,
    provider: provider ?? 'openai',
    apiModel: r.text('api_model', 200) ?? '',
    label: r.text('label', 200) ?? '',
    description: r.text('description', 2_000, true) ?? '',
    baseUrl,
    apiKeyEnv,
    structuredOutput: structuredOutput ?? 'prompt',
    temperature,
    tokenLimitParam: r.oneOf('token_limit_param', TOKEN_LIMIT_PARAMS) ?? 'max_tokens',
    reasoningEffort,
    pricing,
    priceSourceUrl: r.url('price_source_url'),
    priceReadAt,
    contextWindowTokens: r.int('context_window_tokens', 1_000, 100_000_000),
    maxOutputTokens: r.int('max_output_tokens', 256, 10_000_000),
    timeoutMs: r.int('timeout_ms', 100, 600_000),
    deprecatedAt: r.instant('deprecated_at'),
    shutdownAt: r.instant('shutdown_at'),
    replacementId,
    lifecycleSourceUrl: r.url('lifecycle_source_url'),
    enabled: r.bool('enabled', true),
  };
  if (r.errors.length > 0) throw new InvalidModelError(id, r.errors);
  return spec;
}

const day = (d: Date | null): string | null => (d === null ? null : d.toISOString().endsWith('T00:00:00.000Z') ? d.toISOString().slice(0, 10) : d.toISOString());

/** The document of a model: what GET returns and PUT takes. */
export function modelDocument(m: ModelSpec): ModelDocument {
  return {
    id: m.id,
    provider: m.provider,
    api_model: m.apiModel,
    label: m.label,
    description: m.description,
    base_url: m.baseUrl,
    api_key_env: m.apiKeyEnv,
    structured_output: m.structuredOutput,
    temperature: m.temperature,
    token_limit_param: m.tokenLimitParam,
    reasoning_effort: m.reasoningEffort,
    price_input_per_mtok: m.pricing.inputPerMTok,
    price_output_per_mtok: m.pricing.outputPerMTok,
    price_cached_input_per_mtok: m.pricing.cachedInputPerMTok,
    price_cache_write_per_mtok: m.pricing.cacheWritePerMTok,
    price_source_url: m.priceSourceUrl,
    price_read_at: m.priceReadAt,
    context_window_tokens: m.contextWindowTokens,
    max_output_tokens: m.maxOutputTokens,
    timeout_ms: m.timeoutMs,
    deprecated_at: day(m.deprecatedAt),
    shutdown_at: day(m.shutdownAt),
    replacement_id: m.replacementId,
    lifecycle_source_url: m.lifecycleSourceUrl,
    enabled: m.enabled,
  };
}

/** Cross-row rule: each replacement names a model of the catalog. */
export function replacementErrors(models: readonly ModelSpec[]): { modelId: string; error: FieldError }[] {
  const ids = new Set(models.map((m) => m.id));
  return models
    .filter((m) => m.replacementId !== null && !ids.has(m.replacementId))
    .map((m) => ({ modelId: m.id, error: { path: '/replacement_id', code: 'unknown_model', message: `${JSON.stringify(m.replacementId)} is not a model in the catalog` } }));
}
