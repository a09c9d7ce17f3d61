/**
 * One price per model, everywhere: a model with successful attempts in the last 30 days is priced
 * at its own measured average (not at a pooled token average), a model without history at its
 * catalog estimate, and the catalog API, the stats API's savings baseline and the console's
 * dropdowns, cost table and savings card all show that one number. Real Postgres and Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generationAttempts } from '../db/schema.ts';
import { TYPICAL_USAGE } from '../producer/admin-stats.ts';
import { costOf, usdToNumber } from '../shared/money.ts';
import { findModel } from '../shared/default-catalog.ts';
import { type ConsoleFixture, signIn, STATS_READY, startConsoleFixture } from './helpers/console.ts';
import { adminAuth, call } from './helpers/producer.ts';

const SETTINGS = { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true };

let fixture: ConsoleFixture;

beforeAll(async () => {
  fixture = await startConsoleFixture('one-price');
  const at = new Date(Date.now() - 3_600_000);
  const row = (job: string, model: string, role: 'primary' | 'fallback', input: number, output: number, cost: string) => ({
    jobId: job,
    attemptNumber: role === 'primary' ? 1 : 2,
    model,
    provider: model.startsWith('gpt') ? 'openai' : 'anthropic',
    role,
    outcome: 'ok',
    inputTokens: input,
    outputTokens: output,
    costUsd: cost,
    latencyMs: 800,
    settings: SETTINGS,
    startedAt: at,
    finishedAt: at,
  });
  // 24 small primary answers pull the pooled average down; Sonnet's three answers were long:
  // priced on the pooled average Sonnet would look far cheaper than what it measurably costs.
  const rows = [];
  for (let i = 0; i < 24; i++) rows.push(row(`p-${i}`, 'gpt-4o-mini', 'primary', 2_000, 900, '0.000840000000'));
  for (let i = 0; i < 3; i++) rows.push(row(`p-${i}`, 'claude-sonnet-4-6', 'fallback', 3_000, 1_300, '0.028500000000'));
  await fixture.harness.db.db.insert(generationAttempts).values(rows);
});

afterAll(() => fixture?.close());

describe('one price per model', () => {
  it('the catalog prices a model with history at its own average, one without at its estimate', async () => {
    const res = await call(fixture.producer.url, 'GET', '/v1/admin/catalog', { headers: adminAuth });
    expect(res.status).toBe(200);
    const byId = new Map<string, { costPerWorkflowUsd: number; costBasis: string; measuredSamples: number }>(res.body.models.map((m: { id: string }) => [m.id, m]));
    expect(byId.get('claude-sonnet-4-6')).toMatchObject({ costPerWorkflowUsd: 0.0285, costBasis: 'measured', measuredSamples: 3 });
    expect(byId.get('gpt-4o-mini')).toMatchObject({ costPerWorkflowUsd: 0.00084, costBasis: 'measured', measuredSamples: 24 });
    // gpt-4o has no attempts: its catalog prices on the 30 days' average workflow (27 successes).
    expect(res.body).toMatchObject({ basis: 'measured', sampleSize: 27 });
    const gpt4o = byId.get('gpt-4o')!;
    expect(gpt4o).toMatchObject({ costBasis: 'estimate', measuredSamples: 0 });
    expect(gpt4o.costPerWorkflowUsd).toBe(usdToNumber(costOf(findModel('gpt-4o')!, res.body.usage)));
    expect(gpt4o.costPerWorkflowUsd).not.toBe(usdToNumber(costOf(findModel('gpt-4o')!, TYPICAL_USAGE)));

    const stats = await call(fixture.producer.url, 'GET', '/v1/admin/stats?window=24h', { headers: adminAuth });
    expect(stats.body.savings).toMatchObject({ baselineModel: 'claude-sonnet-4-6', baselineCostPerWorkflowUsd: 0.0285, baselineBasis: 'measured' });
  });

  it('the console shows that one price in the dropdown, the cost table and the savings card', async () => {
    const { context, page } = await signIn(fixture.browser, fixture.producer.url, { readyWhen: STATS_READY });
    expect(await page.locator('[data-testid="fallback-model"] option[value="claude-sonnet-4-6"]').getAttribute('data-cost')).toBe('0.0285');
    expect(await page.getByTestId('cost-row-fallback-only').getByTestId('per-workflow').getAttribute('data-value')).toBe('0.0285');
    expect(await page.getByTestId('savings-detail').textContent()).toContain('$0.0285/request, measured');
    expect(await page.getByTestId('cost-basis').textContent()).toContain('Claude Sonnet 4');
    await context.close();
  });
});
