/**
 * The seed's guidance on the console, in Chromium: its three configurations as one-click presets
 * with their warnings and projected cost, the recommended models marked in the dropdowns, and its
 * rules for reading the fallback rate shown beside the live figure when they apply.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLogs } from '../db/schema.ts';
import { DEFAULT_SETTINGS } from '../shared/settings.ts';
import { type ConsoleFixture, signIn, STATS_READY, startConsoleFixture } from './helpers/console.ts';

let fixture: ConsoleFixture;

beforeAll(async () => {
  fixture = await startConsoleFixture('console-presets');
});

afterAll(() => fixture?.close());

async function open(): Promise<Page> {
  const { page } = await signIn(fixture.browser, fixture.producer.url, { readyWhen: STATS_READY });
  await page.getByTestId('preset-recommended').waitFor();
  return page;
}

const generated = (n: number, fallbacks: number) =>
  Array.from({ length: n }, (_, i) => ({
    action: 'WORKFLOW_GENERATED',
    severity: 'info',
    jobId: `rule-${Date.now()}-${i}`,
    details: { generator_used: i < fallbacks ? 'claude-sonnet-4-6' : 'gpt-4o-mini', cost_usd: 0.001, validation_passed: true, fallback_reason: i < fallbacks ? 'schema' : null },
  }));

describe('presets', () => {
  it('fill the form with the seed configurations, warn, project their cost, and save like any change', async () => {
    const page = await open();
    const cost = async (id: string) => Number(await page.locator(`[data-testid="primary-model"] option[value="${id}"]`).getAttribute('data-cost'));
    const [mini, sonnet] = [await cost('gpt-4o-mini'), await cost('claude-sonnet-4-6')];
    expect(await page.locator('[data-testid="primary-model"] option[value="gpt-4o-mini"]').textContent()).toContain('recommended');
    expect(await page.locator('[data-testid="fallback-model"] option[value="claude-sonnet-4-6"]').textContent()).toContain('recommended');

    await page.getByTestId('projection-volume').fill('10000');
    await page.getByTestId('projection-fallback-rate').fill('5');
    const monthly = async (id: string) => Number((await page.getByTestId(`preset-cost-${id}`).textContent())!.replace(/[$,]|\/month/g, ''));
    expect(await monthly('max-savings')).toBeCloseTo(10_000 * mini, 2);
    expect(await monthly('max-quality')).toBeCloseTo(10_000 * sonnet, 2);
    expect(await monthly('recommended')).toBeCloseTo(10_000 * (mini + 0.05 * sonnet), 2);

    await page.getByTestId('preset-max-savings').click();
    expect(await page.getByTestId('primary-model').inputValue()).toBe('gpt-4o-mini');
    expect(await page.getByTestId('fallback-toggle').isChecked()).toBe(false);
    expect(await page.getByTestId('fallback-model').isDisabled()).toBe(true);
    expect(await page.getByTestId('preset-note').textContent()).toContain('Warning: no fallback protection. Monitor validation failures closely.');
    // The projection follows the form: the primary alone.
    expect(Number(await page.getByTestId('projection-monthly').getAttribute('data-value'))).toBeCloseTo(10_000 * mini, 6);

    await page.getByTestId('preset-max-quality').click();
    expect(await page.getByTestId('primary-model').inputValue()).toBe('claude-sonnet-4-6');
    expect(await page.getByTestId('preset-note').textContent()).toContain('no saving');
    await page.getByTestId('save-settings').click();
    await expect.poll(() => page.getByTestId('save-status').textContent()).toContain('Settings saved');
    expect(await fixture.harness.db.settings.read()).toMatchObject({ primaryModel: 'claude-sonnet-4-6', enableFallback: false });

    await page.getByTestId('preset-recommended').click();
    expect(await page.getByTestId('fallback-toggle').isChecked()).toBe(true);
    expect(await page.getByTestId('fallback-model').inputValue()).toBe('claude-sonnet-4-6');
    await page.context().close();
    await fixture.harness.db.settings.update(DEFAULT_SETTINGS, 'test');
  });
});

describe("the seed's reading rules", () => {
  it('show beside the fallback rate when it is above 10% or below 2%, and not in between', async () => {
    await fixture.harness.db.db.insert(auditLogs).values(generated(5, 1)); // 20%
    const page = await open();
    expect(await page.getByTestId('fallback-rate-rule').textContent()).toContain("Above 10%: the primary model's prompts need work");

    await fixture.harness.db.db.insert(auditLogs).values(generated(15, 0)); // 1 of 20: 5%
    await page.getByTestId('refresh-stats').click();
    await expect.poll(() => page.getByTestId('fallback-rate-value').getAttribute('data-value')).toBe('5');
    expect(await page.getByTestId('fallback-rate-rule').textContent()).toBe('');

    await fixture.harness.db.db.insert(auditLogs).values(generated(40, 0)); // 1 of 60
    await page.getByTestId('refresh-stats').click();
    await expect.poll(() => page.getByTestId('fallback-rate-rule').textContent()).toContain('Below 2%: fallback could be turned off for simple agents');
    await page.context().close();
  });
});
