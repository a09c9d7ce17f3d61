/** Reads and writes the model_catalog table; every write is validated and audited. */
import { eq, sql } from 'drizzle-orm';
import { defaultModelDocuments } from '../shared/default-catalog.ts';
import { ConfigurationError } from '../shared/errors.ts';
import { InvalidModelError, type ModelDocument, modelDocument, parseModelDocument, replacementErrors } from '../shared/model-catalog-input.ts';
import { ModelCatalog, type ModelSpec } from '../shared/models.ts';
import { AUDIT_ACTIONS } from '../shared/outcomes.ts';
import type { Database } from './client.ts';
import { auditLogs, generationAttempts, modelCatalog } from './schema.ts';

type Row = typeof modelCatalog.$inferSelect;
type Insert = typeof modelCatalog.$inferInsert;

/** numeric(20,6) comes back with six decimals: trim them so a price reads as it was written. */
const price = (v: string): string => (v.includes('.') ? v.replace(/0+$/, '').replace(/\.$/, '') : v);
const iso = (d: Date | null): string | null => {
  if (d === null) return null;
  const s = d.toISOString();
  return s.endsWith('T00:00:00.000Z') ? s.slice(0, 10) : s;
};

/** The document a stored row holds, for the same parser as the file and the API. */
export function rowDocument(r: Row): ModelDocument {
  return {
    id: r.id,
    provider: r.provider as ModelDocument['provider'],
    api_model: r.apiModel,
    label: r.label,
    description: r.description,
    base_url: r.baseUrl,
    api_key_env: r.apiKeyEnv,
    structured_output: r.structuredOutput as ModelDocument['structured_output'],
    temperature: r.temperature,
    token_limit_param: r.tokenLimitParam as ModelDocument['token_limit_param'],
    reasoning_effort: r.reasoningEffort as ModelDocument['reasoning_effort'],
    price_input_per_mtok: price(r.priceInputPerMTok),
    price_output_per_mtok: price(r.priceOutputPerMTok),
    price_cached_input_per_mtok: price(r.priceCachedInputPerMTok),
    price_cache_write_per_mtok: price(r.priceCacheWritePerMTok),
    price_source_url: r.priceSourceUrl,
    price_read_at: r.priceReadAt,
    context_window_tokens: r.contextWindowTokens,
    max_output_tokens: r.maxOutputTokens,
    timeout_ms: r.timeoutMs,
    deprecated_at: iso(r.deprecatedAt),
    shutdown_at: iso(r.shutdownAt),
    replacement_id: r.replacementId,
    lifecycle_source_url: r.lifecycleSourceUrl,
    enabled: r.enabled,
  };
}

function toRow(m: ModelSpec, updatedBy: string): Insert {
  return {
    id: m.id,
    provider: m.provider,
    apiModel: m.apiModel,
    label: m.label,
    description: m.description,
    baseUrl: m.baseUrl,
    apiKeyEnv: m.apiKeyEnv,
    structuredOutput: m.structuredOutput,
    temperature: m.temperature,
    tokenLimitParam: m.tokenLimitParam,
    reasoningEffort: m.reasoningEffort,
    priceInputPerMTok: m.pricing.inputPerMTok,
    priceOutputPerMTok: m.pricing.outputPerMTok,
    priceCachedInputPerMTok: m.pricing.cachedInputPerMTok,
    priceCacheWritePerMTok: m.pricing.cacheWritePerMTok,
    priceSourceUrl: m.priceSourceUrl,
    priceReadAt: m.priceReadAt,
    contextWindowTokens: m.contextWindowTokens,
    maxOutputTokens: m.maxOutputTokens,
    timeoutMs: m.timeoutMs,
    deprecatedAt: m.deprecatedAt,
    shutdownAt: m.shutdownAt,
    replacementId: m.replacementId,
    lifecycleSourceUrl: m.lifecycleSourceUrl,
    enabled: m.enabled,
    updatedBy,
  };
}

export interface CatalogEntry {
  readonly model: ModelSpec;
  readonly updatedAt: Date;
  readonly updatedBy: string | null;
}

/** A change refused because of what else is stored (attempts that name the model). */
export class CatalogConflictError extends Error {
  readonly code = 'MODEL_IN_USE';
}

const LOCK = 7_314_203;

export class CatalogStore {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  async rows(): Promise<Row[]> {
    return this.db.select().from(modelCatalog).orderBy(modelCatalog.provider, modelCatalog.id);
  }

  /**
   * The catalog in the table. Throws InvalidModelError naming the first bad row and field, and a
   * ConfigurationError when the table is empty (db:init not run): callers keep what they had.
   */
  async load(): Promise<ModelCatalog> {
    return new ModelCatalog((await this.entries()).map((e) => e.model));
  }

  async entries(): Promise<CatalogEntry[]> {
    const rows = await this.rows();
    if (rows.length === 0) throw new ConfigurationError('INVALID_CONFIG', 'the model_catalog table is empty: run npm run db:init');
    const entries = rows.map((r) => ({ model: parseModelDocument(rowDocument(r), r.id), updatedAt: r.updatedAt, updatedBy: r.updatedBy }));
    const bad = replacementErrors(entries.map((e) => e.model))[0];
    if (bad) throw new InvalidModelError(bad.modelId, [bad.error]);
    return entries;
  }

  /** Inserts the default file's rows that are missing; rows already there are left alone. Returns the ids inserted. */
  async initDefaults(updatedBy = 'db:init'): Promise<string[]> {
    const models = defaultModelDocuments().map((d) => parseModelDocument(d));
    const inserted = await this.db
      .insert(modelCatalog)
      .values(models.map((m) => toRow(m, updatedBy)))
      .onConflictDoNothing({ target: modelCatalog.id })
      .returning({ id: modelCatalog.id });
    return inserted.map((r) => r.id);
  }

  /**
   * Creates or replaces one model from its document, validated (InvalidModelError names each bad
   * field, nothing is stored), with a MODEL_CATALOG_UPDATED audit row of old, new and who.
   */
  async put(id: string, document: unknown, updatedBy: string): Promise<{ model: ModelSpec; created: boolean }> {
    const model = parseModelDocument(document, id);
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${LOCK})`);
      const current = await tx.select().from(modelCatalog);
      const before = current.find((r) => r.id === id);
      const ids = new Set(current.map((r) => r.id));
      ids.add(id);
      if (model.replacementId !== null && !ids.has(model.replacementId)) {
        throw new InvalidModelError(id, [{ path: '/replacement_id', code: 'unknown_model', message: `${JSON.stringify(model.replacementId)} is not a model in the catalog` }]);
      }
      const row = toRow(model, updatedBy);
      const { id: _id, ...changes } = row;
      await tx.insert(modelCatalog).values(row).onConflictDoUpdate({ target: modelCatalog.id, set: { ...changes, updatedAt: sql`now()` } });
      await tx.insert(auditLogs).values({
        action: AUDIT_ACTIONS.modelCatalogUpdated,
        severity: 'info',
        userId: updatedBy,
        details: { model_id: id, updated_by: updatedBy, old: before ? rowDocument(before) : null, new: modelDocument(model) },
      });
      return { model, created: before === undefined };
    });
  }

  /** Deletes a model no attempt names; a model with attempts is disabled instead (history stays readable). */
  async delete(id: string, updatedBy: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${LOCK})`);
      const [used] = await tx.select({ n: sql<number>`1` }).from(generationAttempts).where(eq(generationAttempts.model, id)).limit(1);
      if (used) throw new CatalogConflictError(`model ${id} has recorded attempts: disable it (enabled: false) instead of deleting it`);
      const referenced = await tx.select({ id: modelCatalog.id }).from(modelCatalog).where(eq(modelCatalog.replacementId, id));
      if (referenced.length > 0) throw new CatalogConflictError(`model ${id} is the replacement of ${referenced.map((r) => r.id).join(', ')}`);
      const [before] = await tx.delete(modelCatalog).where(eq(modelCatalog.id, id)).returning();
      if (!before) return false;
      await tx.insert(auditLogs).values({ action: AUDIT_ACTIONS.modelCatalogUpdated, severity: 'info', userId: updatedBy, details: { model_id: id, updated_by: updatedBy, old: rowDocument(before), new: null } });
      return true;
    });
  }
}
