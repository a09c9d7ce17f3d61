/** Reads and writes the orchestrator's rows of system_settings_config. */
import { createHash } from 'node:crypto';
import { desc, eq, inArray, sql } from 'drizzle-orm';
import { ConfigurationError } from '../shared/errors.ts';
import type { ModelCatalog } from '../shared/models.ts';
import { AUDIT_ACTIONS } from '../shared/outcomes.ts';
import { mergeSettingsWrite, type RawSettings, settingsSnapshot, resolveSettings, SETTING_DEFINITIONS, SETTING_KEYS, type ResolvedSettings, type SettingsWrite, settingKeyOf, unavailableMessage } from '../shared/settings.ts';
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
  async readRaw(): Promise<RawSettings> {
    // The cap as the text Postgres holds: Drizzle's jsonb reader JSON.parses a string value, so
    // "0.25" would come back the number 0.25 (and a tiny amount in exponent form).
    const rows = await this.db
      .select({ key: systemSettingsConfig.key, value: systemSettingsConfig.value, text: sql<string | null>`${systemSettingsConfig.value} #>> '{}'` })
      .from(systemSettingsConfig)
      .where(inArray(systemSettingsConfig.key, KEYS));
    const byKey = new Map(rows.map((r) => [r.key, r.key === SETTING_KEYS.maxCostPerRequestUsd && r.text !== null ? r.text : r.value]));
    const def = Object.fromEntries(SETTING_DEFINITIONS.map((d) => [d.key, d.value]));
    const get = (k: string) => (byKey.has(k) ? byKey.get(k) : def[k]);
    const fallbackModel = get(SETTING_KEYS.fallbackModel);
    return {
      primaryModel: get(SETTING_KEYS.primaryModel),
      fallbackModel,
      enableFallback: get(SETTING_KEYS.enableFallback),
      // A database from before the ladder: a chain of its fallback model alone, not the default's.
      fallbackChain: byKey.has(SETTING_KEYS.fallbackChain) ? byKey.get(SETTING_KEYS.fallbackChain) : [fallbackModel],
      repairAttempts: get(SETTING_KEYS.repairAttempts),
      maxCostPerRequestUsd: get(SETTING_KEYS.maxCostPerRequestUsd),
    };
  }

  /** The stored settings resolved in `catalog` (default: the table's). A retired model resolves: it is reported, not switched. */
  async read(catalog?: ModelCatalog): Promise<ResolvedSettings> {
    const [raw, models] = await Promise.all([this.readRaw(), catalog ?? this.catalog.load()]);
    return resolveSettings(raw, models);
  }

  /** Inserts the defaults that are missing; values already set are left alone. Returns the keys inserted. */
  async initDefaults(updatedBy = 'db:init'): Promise<string[]> {
    const insert = (defs: readonly (typeof SETTING_DEFINITIONS)[number][], value: (d: (typeof SETTING_DEFINITIONS)[number]) => unknown) =>
      this.db
        .insert(systemSettingsConfig)
        .values(defs.map((d) => ({ key: d.key, value: value(d), category: d.category, description: d.description, updatedBy })))
        .onConflictDoNothing({ target: systemSettingsConfig.key })
        .returning({ key: systemSettingsConfig.key });
    const seed = await insert(SETTING_DEFINITIONS.filter((d) => d.key !== SETTING_KEYS.fallbackChain), (d) => d.value);
    // The chain starts as the fallback model stored now, which an operator may have changed.
    const { fallbackModel } = await this.readRaw();
    const chain = await insert(SETTING_DEFINITIONS.filter((d) => d.key === SETTING_KEYS.fallbackChain), () => [fallbackModel]);
    return [...seed, ...chain].map((r) => r.key);
  }

  /**
   * Validates and writes the settings at once (keys left out of `next` keep their stored value;
   * see mergeSettingsWrite), with a SETTINGS_UPDATED audit row holding the old and new values
   * and who changed them.
   */
  async update(next: SettingsWrite, updatedBy: string, options: { ifMatch?: string; now?: Date } = {}): Promise<ResolvedSettings> {
    const now = options.now ?? new Date();
    const catalog = await this.catalog.load();
    let resolved: ResolvedSettings | undefined;
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
      const merged = mergeSettingsWrite(next, before);
      const [bad] = merged.errors;
      if (bad) throw new ConfigurationError('INVALID_SETTINGS', `${settingKeyOf(bad.path)} ${bad.message}`);
      const r = resolveSettings(merged.settings, catalog);
      resolved = r;
      // A model newly named must be one the vendor still serves; one already configured is left
      // to the operator (reported on the admin page and by an alert), never switched here.
      const beforeChain = Array.isArray(before.fallbackChain) ? (before.fallbackChain as unknown[]) : [];
      const named: [string, string, boolean][] = [
        [SETTING_KEYS.primaryModel, r.primaryModel, r.primaryModel !== before.primaryModel],
        [SETTING_KEYS.fallbackModel, r.fallbackModel, r.fallbackModel !== before.fallbackModel],
        ...r.fallbackChain.slice(1).map((id): [string, string, boolean] => [SETTING_KEYS.fallbackChain, id, !beforeChain.includes(id)]),
      ];
      for (const [key, id, isNew] of named) {
        if (!isNew) continue;
        const problem = unavailableMessage(key, catalog.find(id)!, catalog, now);
        if (problem) throw new ConfigurationError('UNKNOWN_MODEL', problem);
      }
      const values: Record<string, unknown> = {
        [SETTING_KEYS.primaryModel]: r.primaryModel,
        [SETTING_KEYS.fallbackModel]: r.fallbackModel,
        [SETTING_KEYS.enableFallback]: r.enableFallback,
        [SETTING_KEYS.fallbackChain]: r.fallbackChain,
        [SETTING_KEYS.repairAttempts]: r.repairAttempts,
        [SETTING_KEYS.maxCostPerRequestUsd]: r.maxCostPerRequestUsd ?? '',
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
          old: { ...before, maxCostPerRequestUsd: before.maxCostPerRequestUsd === '' ? null : before.maxCostPerRequestUsd },
          new: settingsSnapshot(r),
        },
      });
    });
    return resolved!;
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
