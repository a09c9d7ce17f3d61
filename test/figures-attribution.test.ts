/**
 * Figures belong to the models that produced them. Requests run on real workers and the simulated
 * provider with one set of settings, the settings change mid-window, more requests run: the stats
 * API and the console (in Chromium) attribute every count to the model of its attempt rows, not to
 * the models configured now.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findModel } from '../shared/default-catalog.ts';
import { type ConsoleFixture, signIn, STATS_READY, startConsoleFixture } from './helpers/console.ts';
import { goal, PLUGINS } from './helpers/harness.ts';
import { adminAuth, call } from './helpers/producer.ts';

const label = (id: string) => findModel(id)!.label;

let fixture: ConsoleFixture;

async function run(n: number, tag: string, ...directives: string[]): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await fixture.harness.client.enqueue({ userId: 'u', agentId: `${tag}-${i}`, userGoal: goal(`Summarise my inbox to Slack (${tag} ${i})`, ...directives), availablePlugins: PLUGINS }));
  for (const id of ids) await fixture.harness.client.waitForResult(id, { timeoutMs: 30_000 }).catch(() => undefined);
}

beforeAll(async () => {
  fixture = await startConsoleFixture('figures-attribution', { harness: { env: { MODEL_TIMEOUTS_MS: 'gpt-4o-mini=1500,claude-sonnet-4-6=1500,claude-haiku-4-5=1500,gpt-4o=1500' } } });
  const first = await fixture.harness.startWorker();
  // Before the change: GPT-4o mini primary, Claude Sonnet 4 fallback; two of six fall back.
  await run(4, 'before');
  await run(2, 'before-fb', 'gpt-4o-mini=schema');
  // The change, mid-window: Claude Haiku 4.5 primary, GPT-4o fallback, fallback off.
  await fixture.harness.db.settings.update({ primaryModel: 'claude-haiku-4-5', fallbackModel: 'gpt-4o', enableFallback: false }, 'test');
  // Both workers read the new settings before the next requests (a refresh reads the table now).
  await first.settings.refresh();
  await (await fixture.harness.startWorker()).settings.refresh();
  await run(3, 'after');
}, 120_000);

afterAll(() => fixture?.close());

describe('after a settings change mid-window', () => {
  it('the stats API attributes attempts to the models that made them', async () => {
    const res = await call(fixture.producer.url, 'GET', '/v1/admin/stats?window=1h', { headers: adminAuth });
    expect(res.status).toBe(200);
    const models = (list: Array<{ model: string; attempts: number }>) => Object.fromEntries(list.map((m) => [m.model, m.attempts]));
    expect(models(res.body.flow.primaryModels)).toEqual({ 'gpt-4o-mini': 6, 'claude-haiku-4-5': 3 });
    expect(models(res.body.flow.fallbackModels)).toEqual({ 'claude-sonnet-4-6': 2 });
  });

  it('the console labels each figure with those models, not the ones configured now', async () => {
    const { context, page } = await signIn(fixture.browser, fixture.producer.url, { readyWhen: STATS_READY });
    await page.getByTestId('window-1h').click();
    await expect.poll(() => page.getByTestId('flow-window').textContent()).toBe('last hour');

    const primary = await page.getByTestId('flow-primary-model').textContent();
    expect(primary).toBe(`${label('gpt-4o-mini')} · 6 attempts, ${label('claude-haiku-4-5')} · 3 attempts`);
    // Fallback is off now, but in the window Claude Sonnet 4 answered two requests.
    expect(await page.getByTestId('flow-fallback-model').textContent()).toBe(`${label('claude-sonnet-4-6')} · 2 attempts`);
    const detail = await page.getByTestId('primary-pass-rate-detail').textContent();
    expect(detail).toContain(`${label('gpt-4o-mini')}: 4 of 6 answers valid`);
    expect(detail).toContain(`${label('claude-haiku-4-5')}: 3 of 3 answers valid`);
    // 7 of 9 primary answers passed.
    expect(await page.getByTestId('primary-pass-rate-value').getAttribute('data-value')).toBe('77.78');
    await context.close();
  });
});
