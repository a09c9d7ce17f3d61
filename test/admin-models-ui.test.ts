/**
 * The console's Models section and lifecycle warnings in a real headless Chromium, against a
 * real producer and Postgres: the catalog table with retirement badges, the edit form's
 * field-level errors, the red banner for a retired configured model and the settings card's
 * 30-day warning.
 */
import { eq, sql } from 'drizzle-orm';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLogs, modelCatalog } from '../db/schema.ts';
import { MODEL_CATALOG } from '../shared/default-catalog.ts';
import { DEFAULT_SETTINGS } from '../shared/settings.ts';
import { closeCheckedPage, type ConsoleFixture, openCheckedPage, startConsoleFixture } from './helpers/console.ts';

let fixture: ConsoleFixture;

beforeAll(async () => {
  fixture = await startConsoleFixture('admin-models-ui');
});
afterAll(() => fixture?.close());

async function openConsole(): Promise<Page> {
  return openCheckedPage(fixture.browser, fixture.producer.url, { readyWhen: 'body[data-ready="true"][data-models-ready="true"]' });
}

const closePage = closeCheckedPage;

const daysUntil = (iso: string) => Math.ceil((Date.parse(iso) - Date.now()) / 86_400_000);

describe('Models section', () => {
  it('lists every catalog model with its retirement badge and replacement', async () => {
    const page = await openConsole();
    try {
      for (const m of MODEL_CATALOG) await page.getByTestId(`model-row-${m.id}`).waitFor();
      expect(await page.getByTestId('model-row-claude-sonnet-4').getByTestId('model-lifecycle').textContent()).toBe('retired → claude-sonnet-4-6');
      const days = daysUntil('2027-01-14T00:00:00Z');
      expect(await page.getByTestId('model-row-gpt-4o-mini').getByTestId('model-lifecycle').textContent()).toBe(`retires in ${days} days → gpt-6-luna`);
      expect(await page.getByTestId('model-row-claude-sonnet-4-6').getByTestId('model-lifecycle').textContent()).toBe('');
    } finally {
      await closePage(page);
    }
  });

  it('shows field-level errors for a bad edit and stores nothing; a good edit is saved and audited', async () => {
    const page = await openConsole();
    try {
      await page.getByTestId('model-row-gpt-4.1').getByTestId('edit-model').click();
      await page.getByTestId('model-field-price_input_per_mtok').fill('-1');
      await page.getByTestId('model-field-base_url').fill('ftp://gateway.example');
      await page.getByTestId('save-model').click();
      await page.getByTestId('model-error-price_input_per_mtok').waitFor();
      expect(await page.getByTestId('model-error-price_input_per_mtok').textContent()).toBe('must not be negative');
      expect(await page.getByTestId('model-error-base_url').textContent()).toMatch(/http or https/);
      expect(await page.getByTestId('model-error-label').isHidden()).toBe(true);
      const [stored] = await fixture.harness.db.db.select().from(modelCatalog).where(eq(modelCatalog.id, 'gpt-4.1'));
      expect(stored!.priceInputPerMTok).toBe('2.000000');

      await page.getByTestId('model-field-price_input_per_mtok').fill('2.25');
      await page.getByTestId('model-field-base_url').fill('');
      await page.getByTestId('save-model').click();
      await page.getByTestId('model-status').filter({ hasText: 'Saved gpt-4.1.' }).waitFor();
      expect(await page.getByTestId('model-row-gpt-4.1').locator('td.num').first().textContent()).toBe('2.25');
      const [after] = await fixture.harness.db.db.select().from(modelCatalog).where(eq(modelCatalog.id, 'gpt-4.1'));
      expect(after!.priceInputPerMTok).toBe('2.250000');
      const audits = await fixture.harness.db.db.select().from(auditLogs).where(eq(auditLogs.action, 'MODEL_CATALOG_UPDATED'));
      expect(audits.map((a) => a.details)).toContainEqual(expect.objectContaining({ model_id: 'gpt-4.1', old: expect.objectContaining({ price_input_per_mtok: '2' }), new: expect.objectContaining({ price_input_per_mtok: '2.25' }) }));
    } finally {
      await closePage(page);
    }
  });
});

describe('lifecycle warnings', () => {
  it('a red banner names the replacement of a retired configured model', async () => {
    await fixture.harness.db.db.execute(sql`update system_settings_config set value = '"claude-sonnet-4"' where key = 'orchestrator_fallback_model'`);
    const page = await openConsole();
    try {
      const banner = page.getByTestId('retired-banner-fallback');
      await banner.waitFor();
      expect(await banner.textContent()).toBe('The fallback model claude-sonnet-4 was retired by its vendor on 2026-06-15: its calls fail and hand over. Its replacement is Claude Sonnet 4.6 (claude-sonnet-4-6).');
      expect(await banner.evaluate((e) => getComputedStyle(e).backgroundColor)).not.toBe('rgba(0, 0, 0, 0)');
    } finally {
      await closePage(page);
      await fixture.harness.db.settings.update(DEFAULT_SETTINGS, 'test');
    }
  });

  it('the settings card warns when a configured model retires within 30 days', async () => {
    // GPT-5 shuts down on 2026-12-11: a week away today.
    await fixture.harness.db.settings.update({ ...DEFAULT_SETTINGS, primaryModel: 'gpt-5' }, 'test');
    const page = await openConsole();
    try {
      const warning = page.getByTestId('retiring-warning-primary');
      await warning.waitFor();
      const days = daysUntil('2026-12-11T00:00:00Z');
      expect(await warning.textContent()).toBe(`The primary model gpt-5 retires in ${days} day${days === 1 ? '' : 's'} (2026-12-11). Its replacement is GPT-6.1 Sol (gpt-6.1-sol).`);
      expect(await page.getByTestId('settings-card').getByTestId('retiring-warning-primary').count()).toBe(1);
      expect(await page.getByTestId('retired-banner-primary').count()).toBe(0);
    } finally {
      await closePage(page);
      await fixture.harness.db.settings.update(DEFAULT_SETTINGS, 'test');
    }
  });
});
