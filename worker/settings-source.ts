/**
 * The settings in force, refreshed from the database in the background. An invalid stored value
 * is logged and the last good settings stay in force.
 */
import type { SettingsStore } from '../db/settings-store.js';
import { coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { DEFAULT_SETTINGS, resolveSettings, type ResolvedSettings } from '../shared/settings.js';

export interface SettingsSource {
  current(): ResolvedSettings;
}

export class PollingSettingsSource implements SettingsSource {
  private settings: ResolvedSettings = resolveSettings(DEFAULT_SETTINGS);
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastError: string | undefined;
  private refreshCount = 0;

  private constructor(
    private readonly store: SettingsStore,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

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

  async refresh(): Promise<void> {
    try {
      const next = await this.store.read();
      const changed = next.primaryModel !== this.settings.primaryModel || next.fallbackModel !== this.settings.fallbackModel || next.enableFallback !== this.settings.enableFallback;
      if (changed) this.log.info({ primaryModel: next.primaryModel, fallbackModel: next.fallbackModel, enableFallback: next.enableFallback }, 'settings changed');
      this.settings = next;
      this.lastError = undefined;
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
