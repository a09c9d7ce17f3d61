/**
 * The settings and the model catalog in force, refreshed from the database in the background.
 * An invalid stored value is logged and the last good settings stay in force; a bad catalog row
 * is logged and the last good catalog stays in force.
 */
import type { SettingsStore } from '../db/settings-store.ts';
import { coerceError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { DEFAULT_CATALOG } from '../shared/default-catalog.ts';
import { modelDocument } from '../shared/model-catalog-input.ts';
import { ModelCatalog } from '../shared/models.ts';
import { DEFAULT_SETTINGS, resolveSettings, type ResolvedSettings, settingsSnapshot } from '../shared/settings.ts';

export interface SettingsSource {
  current(): ResolvedSettings;
}

export class PollingSettingsSource implements SettingsSource {
  private settings: ResolvedSettings = resolveSettings(DEFAULT_SETTINGS, DEFAULT_CATALOG);
  private catalog: ModelCatalog = DEFAULT_CATALOG;
  private catalogVersion = '';
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastError: string | undefined;
  private lastCatalogError: string | undefined;
  private readonly listeners: ((s: ResolvedSettings) => void)[] = [];
  private refreshCount = 0;

  private readonly store: SettingsStore;
  private readonly intervalMs: number;
  private readonly log: Logger;

  private constructor(
    store: SettingsStore,
    intervalMs: number,
    log: Logger,
  ) {
    this.store = store;
    this.intervalMs = intervalMs;
    this.log = log;
  }

  /** Reads once (falling back to the defaults if the stored values are bad), then keeps refreshing. */
  static async start(store: SettingsStore, options: { intervalMs: number; log: Logger }): Promise<PollingSettingsSource> {
    const source = new PollingSettingsSource(store, options.intervalMs, options.log);
    await source.refresh();
    source.schedule();
    return source;
  }

  current(): ResolvedSettings {
    return this.settings;
  }

  /** Completed reads of the table, good or bad: lets a caller know the store was looked at. */
  get refreshes(): number {
    return this.refreshCount;
  }

  /** Called after every read with the settings in force (for metrics of the configured models). */
  onRefresh(listener: (s: ResolvedSettings) => void): void {
    this.listeners.push(listener);
    listener(this.settings);
  }

  /** The catalog from the table, or the last good one when a row is bad or the table unreadable. */
  private async refreshCatalog(): Promise<ModelCatalog> {
    try {
      const entries = await this.store.catalog.entries();
      // The rows themselves, not their updated_at: a hand edit in SQL need not touch it.
      const version = JSON.stringify(entries.map((e) => modelDocument(e.model)));
      if (version !== this.catalogVersion) {
        if (this.catalogVersion !== '') this.log.info({ models: entries.length }, 'model catalog changed');
        this.catalog = new ModelCatalog(entries.map((e) => e.model));
        this.catalogVersion = version;
      }
      this.lastCatalogError = undefined;
    } catch (err) {
      const message = coerceError(err).message;
      if (message !== this.lastCatalogError) this.log.error({ err: message, kept: this.catalog.size }, 'model catalog is invalid or unreadable; keeping the last good catalog');
      this.lastCatalogError = message;
    }
    return this.catalog;
  }

  async refresh(): Promise<void> {
    try {
      const next = await this.store.read(await this.refreshCatalog());
      const changed = JSON.stringify(settingsSnapshot(next)) !== JSON.stringify(settingsSnapshot(this.settings));
      if (changed) this.log.info(settingsSnapshot(next), 'settings changed');
      this.settings = next;
      this.lastError = undefined;
      for (const l of this.listeners) l(next);
    } catch (err) {
      const message = coerceError(err).message;
      // Log each distinct problem once, not once per poll.
      if (message !== this.lastError) this.log.error({ err: message, kept: { primaryModel: this.settings.primaryModel, fallbackModel: this.settings.fallbackModel, enableFallback: this.settings.enableFallback } }, 'stored settings are invalid or unreadable; keeping the last good settings');
      this.lastError = message;
    } finally {
      this.refreshCount++;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
