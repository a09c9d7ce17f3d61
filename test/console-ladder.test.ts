/**
 * The escalation ladder on the console's settings card, in Chromium: the chain edited from the
 * catalog (add, reorder, remove; its head is the fallback generator), repair attempts and the
 * cost cap saved through the API; each step's handling of each failure kind in words; the
 * projections priced over the whole ladder; each model's circuit shown.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIRCUIT_MIN_CALLS, RedisModelCircuit } from '../shared/model-circuit.ts';
import { type ConsoleFixture, signIn, startConsoleFixture } from './helpers/console.ts';
import { adminAuth, call } from './helpers/producer.ts';

let fixture: ConsoleFixture;

beforeAll(async () => {
  fixture = await startConsoleFixture('console-ladder', { resetSettings: true });
});

afterAll(() => fixture?.close());

async function open(): Promise<Page> {
  const { page } = await signIn(fixture.browser, fixture.producer.url, { readyWhen: '[data-testid="ladder-field"][data-circuits-loaded="true"]' });
  return page;
}

const chainOf = (page: Page) => page.locator('[data-testid="chain-list"] > li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.model));
const text = async (page: Page, id: string) => (await page.getByTestId(id).textContent())!.trim();

describe('the ladder on the settings card', () => {
  it('edits the chain, repairs and the cap, says what happens per step, and saves them', async () => {
    const page = await open();
    expect(await chainOf(page)).toEqual(['claude-sonnet-4-6']);
    // The default ladder in words: no repair; the fallback is the last step.
    expect(await text(page, 'ladder-step-0-invalid')).toBe('Answer fails validation (schema, semantic, unparseable): goes to step 2 (Claude Sonnet 4.6).');
    expect(await text(page, 'ladder-step-1-invalid')).toBe('Answer fails validation (schema, semantic, unparseable): the request ends invalid.');
    expect(await text(page, 'ladder-step-1-transient')).toMatch(/^Timeout, server error or rate limit: retried with backoff .* until the request’s deadline, then the request ends failed\.$/);

    // Add two steps from the catalog, move the last one up, remove one.
    await page.getByTestId('chain-add-model').selectOption('gpt-6.1-sol');
    await page.getByTestId('chain-add').click();
    await page.getByTestId('chain-add-model').selectOption('claude-opus-4-8');
    await page.getByTestId('chain-add').click();
    expect(await chainOf(page)).toEqual(['claude-sonnet-4-6', 'gpt-6.1-sol', 'claude-opus-4-8']);
    // Neither the primary, a chained model nor a retired one is offered.
    const offered = await page.locator('[data-testid="chain-add-model"] option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(offered).not.toContain('gpt-4o-mini');
    expect(offered).not.toContain('gpt-6.1-sol');
    expect(offered).not.toContain('claude-sonnet-4');
    await page.getByTestId('chain-up-2').click();
    expect(await chainOf(page)).toEqual(['claude-sonnet-4-6', 'claude-opus-4-8', 'gpt-6.1-sol']);
    // Moving a step to the top makes it the fallback generator.
    await page.getByTestId('chain-up-1').click();
    expect(await chainOf(page)).toEqual(['claude-opus-4-8', 'claude-sonnet-4-6', 'gpt-6.1-sol']);
    expect(await page.getByTestId('fallback-model').inputValue()).toBe('claude-opus-4-8');
    await page.getByTestId('chain-remove-0').click();
    expect(await chainOf(page)).toEqual(['claude-sonnet-4-6', 'gpt-6.1-sol']);
    expect(await page.getByTestId('fallback-model').inputValue()).toBe('claude-sonnet-4-6');

    await page.getByTestId('repair-attempts').selectOption('2');
    await page.getByTestId('cost-cap').fill('abc');
    expect(await page.getByTestId('cost-cap-error').isVisible()).toBe(true);
    await page.getByTestId('cost-cap').fill('0.05');
    expect(await page.getByTestId('cost-cap-error').isVisible()).toBe(false);

    expect(await text(page, 'ladder-step-0-invalid')).toBe('Answer fails validation (schema, semantic, unparseable): re-asked with its own errors, up to twice, then goes to step 2 (Claude Sonnet 4.6).');
    expect(await text(page, 'ladder-step-1-invalid')).toBe('Answer fails validation (schema, semantic, unparseable): re-asked with its own errors, up to twice, then goes to step 3 (GPT-6.1 Sol).');
    expect(await text(page, 'ladder-step-2-permanent')).toBe('Model unavailable, auth error, quota exhausted or a refused request: the request ends failed at once.');
    expect(await text(page, 'ladder-step-1-transient')).toBe('Timeout, server error or rate limit: goes to step 3 (GPT-6.1 Sol).');
    expect(await text(page, 'ladder-step-1-circuit')).toBe('Circuit open (its recent calls mostly failed): skipped, straight to step 3 (GPT-6.1 Sol).');
    expect(await text(page, 'ladder-step-2-circuit')).toBe('Circuit open (its recent calls mostly failed): called all the same, as the last step: there is nowhere else to go.');
    expect(await text(page, 'ladder-step-0-truncated')).toMatch(/^Answer cut off \(truncated\): re-asked with its larger limit of 16,384 output tokens, up to twice, then goes to step 2/);
    expect(await text(page, 'ladder-step-0-cap')).toMatch(/^Not started when its worst-case price \(about \$[\d.]+ a call\) would take the request past the \$0\.05 cap: the request ends failed \(cost_cap\)\.$/);

    // The projections price the whole ladder: each answer failing at the typed rate, repaired twice.
    await page.getByTestId('projection-fallback-rate').fill('10');
    const cost = async (id: string) => Number(await page.locator(`[data-testid="primary-model"] option[value="${id}"]`).getAttribute('data-cost'));
    const [p, f1, f2] = [await cost('gpt-4o-mini'), await cost('claude-sonnet-4-6'), await cost('gpt-6.1-sol')];
    const tries = 1 + 0.1 + 0.01;
    const leave = 0.001;
    const expected = p * tries + leave * f1 * tries + leave * leave * f2 * tries;
    expect(Number(await page.getByTestId('ladder-projection').getAttribute('data-value'))).toBeCloseTo(expected, 12);
    expect(Number(await page.getByTestId('ladder-projection').getAttribute('data-worst'))).toBeCloseTo(3 * (p + f1 + f2), 12);
    expect(Number(await page.locator('[data-testid="cost-row-blended"] [data-testid="per-workflow"]').getAttribute('data-value'))).toBeCloseTo(expected, 12);
    expect(await text(page, 'ladder-projection')).toMatch(/^Whole ladder \(GPT-4o mini → Claude Sonnet 4\.6 → GPT-6\.1 Sol; up to 2 repairs per step\), each answer failing at 10%/);

    await page.getByTestId('save-settings').click();
    await page.waitForSelector('[data-testid="save-status"].success');
    const stored = await call(fixture.producer.url, 'GET', '/v1/admin/settings', { headers: adminAuth });
    expect(stored.body.settings).toEqual({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
    expect(stored.body.ladder).toEqual({ fallbackChain: ['claude-sonnet-4-6', 'gpt-6.1-sol'], repairAttempts: 2, maxCostPerRequestUsd: '0.05' });

    // A reload shows what was stored, and the history says what changed.
    const again = await open();
    await expect.poll(() => again.getByTestId('history-0').textContent()).toMatch(/GPT-4o mini → Claude Sonnet 4\.6 ⇒ GPT-4o mini → Claude Sonnet 4\.6 → GPT-6\.1 Sol, 2 repairs, cap \$0\.05$/);
    expect(await chainOf(again)).toEqual(['claude-sonnet-4-6', 'gpt-6.1-sol']);
    expect(await again.getByTestId('repair-attempts').inputValue()).toBe('2');
    expect(await again.getByTestId('cost-cap').inputValue()).toBe('0.05');
    await again.context().close();
    await page.context().close();
  });

  it('a value the server refuses shows its field error, and nothing is stored', async () => {
    const page = await open();
    await page.getByTestId('cost-cap').fill('0.0000000000001');
    expect(await page.getByTestId('cost-cap-error').isVisible()).toBe(true);
    await page.getByTestId('save-settings').click();
    await page.waitForSelector('[data-testid="save-status"].failure');
    expect(await text(page, 'save-errors')).toMatch(/^\/maxCostPerRequestUsd: must be empty or a positive USD amount with at most 12 decimals/);
    const stored = await call(fixture.producer.url, 'GET', '/v1/admin/settings', { headers: adminAuth });
    expect(stored.body.ladder.maxCostPerRequestUsd).toBe('0.05');
    await page.context().close();
  });

  it('shows each chain model\'s circuit: an open one is skipped', async () => {
    const circuit = new RedisModelCircuit(fixture.harness.redis, fixture.harness.prefix);
    for (let i = 0; i < CIRCUIT_MIN_CALLS; i++) await circuit.record('gpt-6.1-sol', true);
    const page = await open();
    const badge = page.getByTestId('circuit-gpt-6.1-sol');
    expect(await badge.getAttribute('data-state')).toBe('open');
    expect(await badge.textContent()).toMatch(/^circuit open since \d{1,2}:\d{2}:\d{2} (AM|PM): skipped$/);
    expect(await page.getByTestId('circuit-claude-sonnet-4-6').getAttribute('data-state')).toBe('closed');
    await page.context().close();
  });
});
