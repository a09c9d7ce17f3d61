/**
 * Exact money arithmetic. Amounts are bigints counted in picodollars (1e-12 USD): a price per
 * million tokens with up to six decimals is a whole number of picodollars per token, so
 * tokens × price never rounds. Decimal strings cross every boundary (Postgres numeric, JSON).
 */
import { ConfigurationError } from './errors.ts';
import type { ModelSpec } from './models.ts';

export const USD_SCALE = 12;
const SCALE = 10n ** BigInt(USD_SCALE);

export type Picodollars = bigint;

/** Parses a non-negative decimal string in USD into picodollars; more than 12 decimals is refused. */
export function parseUsd(text: string): Picodollars {
  const m = /^(\d+)(?:\.(\d{1,12}))?$/.exec(text.trim());
  if (!m) throw new ConfigurationError('INVALID_AMOUNT', `not an exact USD amount: ${JSON.stringify(text)}`);
  const whole = BigInt(m[1]!);
  const frac = BigInt((m[2] ?? '').padEnd(USD_SCALE, '0'));
  return whole * SCALE + frac;
}

/** Formats picodollars as a decimal string with 12 places: the form stored in numeric(20,12) columns. */
export function formatUsd(amount: Picodollars): string {
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const whole = abs / SCALE;
  const frac = (abs % SCALE).toString().padStart(USD_SCALE, '0');
  return `${negative ? '-' : ''}${whole}.${frac}`;
}

/** A JSON number for reports; exact because a 12-place amount under $1,000 has at most 15 significant digits. */
export function usdToNumber(amount: Picodollars): number {
  return Number(formatUsd(amount));
}

export interface TokenUsage {
  /** Input tokens billed at the full input price (cache reads and writes excluded). */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Input tokens read from the prompt cache. */
  readonly cachedInputTokens: number;
  /** Input tokens written to the prompt cache (Anthropic). */
  readonly cacheWriteTokens: number;
}

export const NO_USAGE: TokenUsage = Object.freeze({ inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0 });

export function totalTokens(u: TokenUsage): number {
  return u.inputTokens + u.outputTokens + u.cachedInputTokens + u.cacheWriteTokens;
}

const perTokenCache = new WeakMap<ModelSpec, Record<keyof ModelSpec['pricing'], Picodollars>>();

/** Price per token in picodollars: the per-million price × 1e12 / 1e6. */
function perTokenPrices(model: ModelSpec): Record<keyof ModelSpec['pricing'], Picodollars> {
  let cached = perTokenCache.get(model);
  if (!cached) {
    const perToken = (p: string): Picodollars => parseUsd(p) / 1_000_000n;
    for (const [k, v] of Object.entries(model.pricing)) {
      if (parseUsd(v) % 1_000_000n !== 0n) {
        throw new ConfigurationError('MODEL_UNPRICED', `price ${k}=${v} of ${model.id} has more than 6 decimals per 1M tokens`);
      }
    }
    cached = {
      inputPerMTok: perToken(model.pricing.inputPerMTok),
      outputPerMTok: perToken(model.pricing.outputPerMTok),
      cachedInputPerMTok: perToken(model.pricing.cachedInputPerMTok),
      cacheWritePerMTok: perToken(model.pricing.cacheWritePerMTok),
    };
    perTokenCache.set(model, cached);
  }
  return cached;
}

/** Checks at configuration time that a model can be priced; an unpriced model is never a silent $0. */
export function assertPriced(model: ModelSpec): void {
  const p = perTokenPrices(model);
  if (p.inputPerMTok <= 0n || p.outputPerMTok <= 0n) {
    throw new ConfigurationError('MODEL_UNPRICED', `model ${model.id} has no input or output price`);
  }
}

export function costOf(model: ModelSpec, usage: TokenUsage): Picodollars {
  const p = perTokenPrices(model);
  return (
    BigInt(usage.inputTokens) * p.inputPerMTok +
    BigInt(usage.outputTokens) * p.outputPerMTok +
    BigInt(usage.cachedInputTokens) * p.cachedInputPerMTok +
    BigInt(usage.cacheWriteTokens) * p.cacheWritePerMTok
  );
}
