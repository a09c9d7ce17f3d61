/**
 * One model attempt: its row is generation_attempts (schema.ts) and its record is that row with
 * the usage, cost and prices grouped as the rest of the code holds them. A column added to the
 * table is a field of AttemptRecord at once; only a column mapped to something else needs a
 * line in the two mappers below.
 */
import { getTableColumns } from 'drizzle-orm';
import type { FieldError } from '../../shared/errors.ts';
import type { ModelPricing } from '../../shared/models.ts';
import type { AttemptOutcome, AttemptRole } from '../../shared/outcomes.ts';
import type { OrchestratorSettings } from '../../shared/settings.ts';
import { formatUsd, parseUsd, type Picodollars, type TokenUsage } from '../../shared/money.ts';
import { storableJson, storableText } from '../../shared/storable-text.ts';
import type { RowOf } from '../columns.ts';
import { generationAttempts } from '../schema.ts';

/** Every column of generation_attempts: what an attempt's statements write and read. */
export const ATTEMPT_COLUMNS = getTableColumns(generationAttempts);
export type AttemptRow = RowOf<typeof ATTEMPT_COLUMNS>;

/** Columns the record holds in another form (usage, cost, pricing). */
type MappedColumn =
  | 'inputTokens'
  | 'outputTokens'
  | 'cachedInputTokens'
  | 'cacheWriteTokens'
  | 'costUsd'
  | 'priceInputPerMTok'
  | 'priceOutputPerMTok'
  | 'priceCachedInputPerMTok'
  | 'priceCacheWritePerMTok';

/** Columns the record narrows to their closed sets and shapes (the table's CHECKs hold them). */
type NarrowedColumn = 'role' | 'outcome' | 'validationErrors' | 'settings';

export type AttemptRecord = Omit<AttemptRow, MappedColumn | NarrowedColumn> & {
  readonly role: AttemptRole;
  readonly outcome: AttemptOutcome;
  readonly validationErrors: readonly FieldError[] | null;
  readonly settings: OrchestratorSettings;
  readonly usage: TokenUsage;
  readonly cost: Picodollars;
  /** The prices `cost` was computed at (null when read back: only the cost is needed then). */
  readonly pricing?: ModelPricing | null;
};

export function toAttemptRow(a: AttemptRecord): AttemptRow {
  const { usage, cost, pricing, ...columns } = a;
  return {
    ...columns,
    // Our text about the answer may quote it: made storable, so the paid attempt always lands.
    validationErrors: storableJson(a.validationErrors),
    errorMessage: a.errorMessage == null ? null : storableText(a.errorMessage.slice(0, 2_000)),
    latencyMs: Math.round(a.latencyMs),
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cachedInputTokens: usage.cachedInputTokens,
    cacheWriteTokens: usage.cacheWriteTokens,
    costUsd: formatUsd(cost),
    // The prices charged, so that a later price change never rewrites what this attempt cost.
    priceInputPerMTok: pricing?.inputPerMTok ?? null,
    priceOutputPerMTok: pricing?.outputPerMTok ?? null,
    priceCachedInputPerMTok: pricing?.cachedInputPerMTok ?? null,
    priceCacheWritePerMTok: pricing?.cacheWritePerMTok ?? null,
  };
}

export function fromAttemptRow(r: AttemptRow): AttemptRecord {
  const {
    inputTokens,
    outputTokens,
    cachedInputTokens,
    cacheWriteTokens,
    costUsd,
    priceInputPerMTok: _input,
    priceOutputPerMTok: _output,
    priceCachedInputPerMTok: _cachedInput,
    priceCacheWritePerMTok: _cacheWrite,
    ...columns
  } = r;
  return {
    ...columns,
    role: columns.role as AttemptRole,
    outcome: columns.outcome as AttemptOutcome,
    validationErrors: columns.validationErrors as FieldError[] | null,
    settings: columns.settings as OrchestratorSettings,
    usage: { inputTokens, outputTokens, cachedInputTokens, cacheWriteTokens },
    cost: parseUsd(costUsd),
  };
}
