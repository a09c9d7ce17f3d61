/** Reads and writes the orchestrator's rows of system_settings_config. */
import { createHash } from 'node:crypto';
import { desc, eq, inArray, sql } from 'drizzle-orm';
import { ConfigurationError } from '../shared/errors.ts';
import type { ModelCatalog } from '../shared/models.ts';
import { AUDIT_ACTIONS } from '../shared/outcomes.ts';
import { type OrchestratorSettings, resolveSettings, SETTING_DEFINITIONS, SETTING_KEYS, type ResolvedSettings, unavailableMessage } from '../shared/settings.ts';
import { CatalogStore } from './catalog-store.ts';
import type { Database } from './client.ts';
import { auditLogs, systemSettingsConfig } from './schema.ts';

const KEYS = Object.values(SETTING_KEYS);

/** A version of the stored settings for If-Match: it changes with every write of any of them. */
export function settingsEtag(rows: readonly Pick<SettingRow, 'key' | 'value' | 'updatedAt'>[]): string {
  const canonical = JSON.stringify([...rows].sort((a, b) => a.key.localeCompare(b.key)).map((r) => [r.key, r.value, r.updatedAt.toISOString()]));
  return `"${createHash('sha256').update(canonical).digest('base64url').slice(0, 22)}"`;
}

/** The settings changed since the version the caller read: a stale save, refused. */
export class SettingsConflictError extends Error {
  readonly currentEtag: string;
  readonly updatedBy: string | null;
  readonly updatedAt: Date | null;

  constructor(
    currentEtag: string,
    updatedBy: string | null,
    updatedAt: Date | null,
  ) {
    super(`the settings changed since they were read${updatedBy ? ` (by ${updatedBy})` : ''}`);
    this.currentEtag = currentEtag;
    this.updatedBy = updatedBy;
    this.updatedAt = updatedAt;
    this.name = 'SettingsConflictError';
  }
}

/** One SETTINGS_UPDATED audit row: who changed what, when. */
export interface SettingsChange {
  readonly at: Date;
  readonly updatedBy: string | null;
  readonly old: unknown;
  readonly new: unknown;
}

export interface SettingRow {
  readonly key: string;
  readonly value: unknown;
  readonly category: string;
  readonly description: string | null;
  readonly updatedAt: Date;
  readonly updatedBy: string | null;
}

export class SettingsStore {
  readonly catalog: CatalogStore;

  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
    this.catalog = new CatalogStore(db);
  }

  async rows(): Promise<SettingRow[]> {
    return this.db.select().from(systemSettingsConfig).where(eq(systemSettingsConfig.category, 'orchestrator')).orderBy(systemSettingsConfig.key);
  }

  /** The raw stored values, missing keys filled from the defaults; not validated. */
  async readRaw(): Promise<{ primaryModel: unknown; fallbackModel: unknown; enableFallback: unknown }> {
    const rows = await this.db.select({ key: systemSettingsConfig.key, value: systemSettingsConfig.value }).from(systemSettingsConfig).where(inArray(systemSettingsConfig.key, KEYS));
    const byKey = new Map(rows.map((r) => [r.key, r.value]));
    const def = Object.fromEntries(SETTING_DEFINITIONS.map((d) => [d.key, d.value]));
    const get = (k: string) => (byKey.has(k) ? byKey.get(k) : def[k]);
    return { primaryModel: get(SETTING_KEYS.primaryModel), fallbackModel: get(SETTING_KEYS.fallbackModel), enableFallback: get(SETTING_KEYS.enableFallback) };
  }

  /** The stored settings resolved in `catalog` (default: the table's). A retired model resolves: it is reported, not switched. */
  async read(catalog?: ModelCatalog): Promise<ResolvedSettings> {
    const [raw, models] = await Promise.all([this.readRaw(), catalog ?? this.catalog.load()]);
    return resolveSettings(raw, models);
  }

  /** Inserts the defaults that are missing; values already set are left alone. Returns the keys inserted. */
  async initDefaults(updatedBy = 'db:init'): Promise<string[]> {
    const inserted = await this.db
      .insert(systemSettingsConfig)
      .values(SETTING_DEFINITIONS.map((d) => ({ key: d.key, value: d.value, category: d.category, description: d.description, updatedBy })))
      .onConflictDoNothing({ target: systemSettingsConfig.key })
      .returning({ key: systemSettingsConfig.key });
    return inserted.map((r) => r.key);
  }

  /**
   * Validates and writes all three settings at once, with a SETTINGS_UPDATED audit row holding
   * the old and new values and who changed them.
   */
  async update(next: OrchestratorSettings, updatedBy: string, options: { ifMatch?: string; now?: Date } = {}): Promise<ResolvedSettings> {
    const now = options.now ?? new Date();
    const catalog = await this.catalog.load();
    const resolved = resolveSettings(next, catalog);
    await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(7314202)`);
      if (options.ifMatch !== undefined) {
        // Checked under the lock that serialises writers: no save slips in between.
        const rows = await new SettingsStore(tx as unknown as Database).rows();
        const etag = settingsEtag(rows);
        if (etag !== options.ifMatch) {
          const latest = rows.reduce<SettingRow | undefined>((a, r) => (!a || r.updatedAt > a.updatedAt ? r : a), undefined);
          throw new SettingsConflictError(etag, latest?.updatedBy ?? null, latest?.updatedAt ?? null);
        }
      }
      const before = await new SettingsStore(tx as unknown as Database).readRaw();
      // A model newly named must be one the vendor still serves; one already configured is left
      // to the operator (reported on the admin page and by an alert), never switched here.
      for (const [key, field] of [[SETTING_KEYS.primaryModel, 'primary'], [SETTING_KEYS.fallbackModel, 'fallback']] as const) {
        const model = resolved[field];
        if (model.id === before[`${field}Model`]) continue;
        const problem = unavailableMessage(key, model, catalog, now);
        if (problem) throw new ConfigurationError('UNKNOWN_MODEL', problem);
      }
      const values: Record<string, unknown> = {
        [SETTING_KEYS.primaryModel]: resolved.primaryModel,
        [SETTING_KEYS.fallbackModel]: resolved.fallbackModel,
        [SETTING_KEYS.enableFallback]: resolved.enableFallback,
      };
      for (const d of SETTING_DEFINITIONS) {
        await tx
          .insert(systemSettingsConfig)
          .values({ key: d.key, value: values[d.key], category: d.category, description: d.description, updatedBy })
          .onConflictDoUpdate({ target: systemSettingsConfig.key, set: { value: values[d.key], updatedAt: sql`now()`, updatedBy } });
      }
      await tx.insert(auditLogs).values({
        action: AUDIT_ACTIONS.settingsUpdated,
        severity: 'info',
        userId: updatedBy,
        details: {
          updated_by: updatedBy,
          old: before,
          new: { primaryModel: resolved.primaryModel, fallbackModel: resolved.fallbackModel, enableFallback: resolved.enableFallback },
        },
      });
    });
    return resolved;
  }

  /** SETTINGS_UPDATED audit rows, newest first. */
  async history(limit: number): Promise<SettingsChange[]> {
    const rows = await this.db
      .select({ at: auditLogs.timestamp, details: auditLogs.details })
      .from(auditLogs)
      .where(eq(auditLogs.action, AUDIT_ACTIONS.settingsUpdated))
      .orderBy(desc(auditLogs.timestamp), desc(auditLogs.id))
      .limit(limit);
    return rows.map((r) => {
      const d = (r.details ?? {}) as { updated_by?: string; old?: unknown; new?: unknown };
      return { at: r.at, updatedBy: d.updated_by ?? null, old: d.old ?? null, new: d.new ?? null };
    });
  }
}
