/**
 * The admin console in a real headless Chromium (Debian's package, driven by playwright-core),
 * against a real producer, Redis and Postgres. Each item of the seed's "Admin UI Tests" checklist
 * is a test here, plus login, the projections' arithmetic and the live figures against rows this
 * file writes. A missing Chromium fails every test with a clear message: nothing is skipped.
 */
import { mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq, like } from 'drizzle-orm';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from './helpers/chromium.ts';
import { auditLogs, generationAttempts, systemSettingsConfig, workflowGenerations } from '../db/schema.ts';
import type { RunningProducer } from '../producer/server.ts';
import { costOf, type TokenUsage, usdToNumber } from '../shared/money.ts';
import { findModel, MODEL_CATALOG } from '../shared/default-catalog.ts';
import { DEFAULT_SETTINGS, type OrchestratorSettings } from '../shared/settings.ts';
import { closeCheckedPage, openCheckedPage, STATS_READY } from './helpers/console.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { ADMIN_IDENTITY, ADMIN_TOKEN, adminAuth, call, producerPool } from './helpers/producer.ts';

const SCREENSHOT = fileURLToPath(new URL('../docs/admin-page.png', import.meta.url));

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let producer: RunningProducer;
let browser: Browser | undefined;
let launchError: Error | undefined;

beforeAll(async () => {
  h = await startHarness('admin-ui');
  pool = producerPool(h.env);
  producer = await pool.start();
  try {
    browser = await launchChromium();
  } catch (err) {
    launchError = new Error(`Chromium at ${CHROMIUM} did not start: ${(err as Error).message}`);
  }
});

afterEach(async () => {
  // Every test starts from the defaults, as stored by someone other than the console.
  await h.db.settings.update(DEFAULT_SETTINGS, 'test');
});

afterAll(async () => {
  await browser?.close();
  await pool?.closeAll();
  await h?.close();
});

/** A fresh browser context, logged in through the form like a person would. */
async function openConsole(): Promise<Page> {
  if (launchError) throw launchError;
  return openCheckedPage(browser!, producer.url, { readyWhen: STATS_READY });
}

const closePage = closeCheckedPage;

/** The page's money format: $1,234.56 from a dollar up; up to six decimals (at least two) below. */
function fmtUsd(n: number): string {
  const sign = n < 0 ? '-' : '';
  const abs = Math.abs(n);
  if (abs >= 1) return `${sign}$${abs.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  let s = abs.toFixed(6).replace(/0+$/, '');
  if ((s.split('.')[1] ?? '').length < 2) s = abs.toFixed(2);
  return `${sign}$${s}`;
}

const TYPICAL: TokenUsage = { inputTokens: 2_500, outputTokens: 1_200, cachedInputTokens: 0, cacheWriteTokens: 0 };
const perWorkflow = (id: string, usage: TokenUsage = TYPICAL) => usdToNumber(costOf(findModel(id)!, usage));

async function figure(page: Page, ...testIds: string[]): Promise<number> {
  let loc = page.getByTestId(testIds[0]!);
  for (const id of testIds.slice(1)) loc = loc.getByTestId(id);
  const raw = await loc.getAttribute('data-value');
  if (raw === null || raw === '') throw new Error(`no value in ${testIds.join(' > ')}`);
  return Number(raw);
}

/** The seed's three settings as stored (the ladder's keys beside them have tests of their own). */
const SEED_KEYS = ['orchestrator_primary_model', 'orchestrator_fallback_model', 'orchestrator_enable_fallback'];
const storedSettings = async () => {
  const rows = await h.db.db.select().from(systemSettingsConfig).where(eq(systemSettingsConfig.category, 'orchestrator'));
  return Object.fromEntries(rows.filter((r) => SEED_KEYS.includes(r.key)).map((r) => [r.key, { value: r.value, updatedBy: r.updatedBy }]));
};

describe('chromium', () => {
  it('is installed and starts (the browser tests fail here, not skip, when it is missing)', () => {
    if (launchError) throw launchError;
    expect(browser!.isConnected()).toBe(true);
  });
});

describe('login', () => {
  it('sends a browser without a session to the login form, refuses a wrong token, and sets an HttpOnly SameSite=Strict cookie', async () => {
    if (launchError) throw launchError;
    const context = await browser!.newContext();
    const page = await context.newPage();
    await page.goto(`${producer.url}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.getByTestId('login-token').fill('not-the-admin-token-at-all');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toContain('not an admin token');
    await page.getByTestId('login-token').fill(ADMIN_TOKEN);
    await page.getByTestId('login-submit').click();
    await page.waitForSelector('body[data-ready="true"]');
    expect(new URL(page.url()).pathname).toBe('/admin');
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'wo_admin_session', httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie!.value).not.toContain(ADMIN_TOKEN);
    expect(await page.evaluate(() => document.cookie)).toBe('');
    // The page's own API calls ride on the cookie.
    const status = await page.evaluate(async () => (await fetch('/v1/admin/settings')).status);
    expect(status).toBe(200);
    await page.getByTestId('logout').click();
    await page.waitForURL(/\/admin\/login$/);
    await page.goto(`${producer.url}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await context.close();
  });
});

describe("the seed's Admin UI Tests checklist", () => {
  it('UI loads orchestrator configuration from database', async () => {
    await h.db.settings.update({ primaryModel: 'gpt-4.1-mini', fallbackModel: 'claude-haiku-4-5', enableFallback: true }, 'ops:seed');
    const page = await openConsole();
    expect(await page.getByTestId('primary-model').inputValue()).toBe('gpt-4.1-mini');
    expect(await page.getByTestId('fallback-model').inputValue()).toBe('claude-haiku-4-5');
    expect(await page.getByTestId('fallback-toggle').isChecked()).toBe(true);
    expect(await page.getByTestId('settings-meta').textContent()).toContain('by ops:seed');
    await closePage(page);

    await h.db.settings.update({ primaryModel: 'claude-opus-4-8', fallbackModel: 'gpt-4o', enableFallback: false }, 'ops:seed');
    const again = await openConsole();
    expect(await again.getByTestId('primary-model').inputValue()).toBe('claude-opus-4-8');
    expect(await again.getByTestId('fallback-model').inputValue()).toBe('gpt-4o');
    expect(await again.getByTestId('fallback-toggle').isChecked()).toBe(false);
    await closePage(again);
  });

  for (const which of ['primary', 'fallback'] as const) {
    it(`${which === 'primary' ? 'Primary' : 'Fallback'} model dropdown displays correct options`, async () => {
      const page = await openConsole();
      const options = await page.getByTestId(`${which}-model`).locator('option').evaluateAll((els) => els.map((o) => ({ value: (o as HTMLOptionElement).value, text: o.textContent })));
      // The table lists models by provider, then id; the seed's recommended configuration is marked:
      // GPT-4o mini as primary, Claude Sonnet 4's replacement in the catalog as fallback.
      const recommended = which === 'primary' ? 'gpt-4o-mini' : 'claude-sonnet-4-6';
      const inTableOrder = [...MODEL_CATALOG].sort((a, b) => (a.provider === b.provider ? (a.id < b.id ? -1 : 1) : a.provider < b.provider ? -1 : 1));
      expect(options).toEqual(inTableOrder.map((m) => ({ value: m.id, text: `${m.label} (~${fmtUsd(perWorkflow(m.id))}/workflow)${m.id === recommended ? ' · recommended' : ''}` })));
      expect(await page.getByTestId(`${which}-model`).inputValue()).toBe(which === 'primary' ? 'gpt-4o-mini' : 'claude-sonnet-4-6');
      await closePage(page);
    });
  }

  it('Fallback toggle animates correctly', async () => {
    const page = await openConsole();
    const knob = page.getByTestId('fallback-toggle-knob');
    const style = await knob.evaluate((el) => {
      const cs = getComputedStyle(el);
      return { property: cs.transitionProperty, duration: cs.transitionDuration, transform: cs.transform };
    });
    expect(await page.evaluate(() => document.body.classList.contains('preload'))).toBe(false);
    expect(style.property).toContain('transform');
    expect(Number.parseFloat(style.duration)).toBeGreaterThan(0.1);
    expect(style.transform).toBe('matrix(1, 0, 0, 1, 20, 0)');
    const trackBefore = await page.getByTestId('fallback-toggle-track').evaluate((el) => getComputedStyle(el).backgroundColor);

    // Click the switch and sample the knob every frame until its transition ends.
    const frames = await page.evaluate(
      () =>
        new Promise<{ transforms: string[]; ended: boolean }>((resolve) => {
          const knobEl = document.querySelector('[data-testid="fallback-toggle-knob"]')!;
          const transforms: string[] = [];
          let started = false;
          let ended = false;
          // Only the transition this click starts counts.
          knobEl.addEventListener('transitionstart', (e) => {
            if ((e as TransitionEvent).propertyName === 'transform') started = true;
          });
          knobEl.addEventListener('transitionend', (e) => {
            if ((e as TransitionEvent).propertyName === 'transform' && started) ended = true;
          });
          (document.querySelector('[data-testid="fallback-toggle-track"]') as HTMLElement).click();
          const start = performance.now();
          const tick = () => {
            transforms.push(getComputedStyle(knobEl).transform);
            if (ended || performance.now() - start > 3_000) resolve({ transforms, ended });
            else requestAnimationFrame(tick);
          };
          requestAnimationFrame(tick);
        }),
    );
    expect(frames.ended).toBe(true);
    const offsets = frames.transforms.map((t) => (t === 'none' ? 0 : Number(/matrix\(1, 0, 0, 1, ([\d.e-]+), 0\)/.exec(t)?.[1] ?? 'NaN')));
    expect(offsets.at(-1)).toBe(0);
    // In between: positions strictly between on (20 px) and off (0 px), moving towards off.
    const between = offsets.filter((x) => x > 0 && x < 20);
    expect(between.length).toBeGreaterThan(0);
    expect([...between].sort((a, b) => b - a)).toEqual(between);
    expect(await page.getByTestId('fallback-toggle').isChecked()).toBe(false);
    const trackAfter = await page.getByTestId('fallback-toggle-track').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(trackAfter).not.toBe(trackBefore);
    await closePage(page);
  });

  it('Save button updates all 3 settings', async () => {
    const page = await openConsole();
    await page.getByTestId('primary-model').selectOption('gpt-4.1-mini');
    await page.getByTestId('fallback-model').selectOption('claude-opus-4-8');
    await page.getByTestId('fallback-toggle-track').click();
    await page.getByTestId('save-settings').click();
    await expect.poll(() => page.getByTestId('save-status').getAttribute('class')).toContain('success');
    expect(await storedSettings()).toEqual({
      orchestrator_primary_model: { value: 'gpt-4.1-mini', updatedBy: ADMIN_IDENTITY },
      orchestrator_fallback_model: { value: 'claude-opus-4-8', updatedBy: ADMIN_IDENTITY },
      orchestrator_enable_fallback: { value: false, updatedBy: ADMIN_IDENTITY },
    });
    const audits = await h.db.db.select().from(auditLogs).where(eq(auditLogs.action, 'SETTINGS_UPDATED'));
    const mine = audits.filter((a) => a.userId === ADMIN_IDENTITY).at(-1)!;
    // The seed's three values, old and new; the ladder's keys ride along (test/ladder-settings.test.ts).
    expect(mine.details).toMatchObject({
      updated_by: ADMIN_IDENTITY,
      old: { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true },
      new: { primaryModel: 'gpt-4.1-mini', fallbackModel: 'claude-opus-4-8', enableFallback: false },
    });
    await closePage(page);
  });

  it('Success message displays after save', async () => {
    const page = await openConsole();
    expect(await page.getByTestId('save-status').textContent()).toBe('');
    await page.getByTestId('primary-model').selectOption('gpt-4o');
    await page.getByTestId('save-settings').click();
    const status = page.getByTestId('save-status');
    await expect.poll(() => status.textContent()).toMatch(/^Settings saved at .+ Workers apply them within 2 seconds\.$/);
    expect(await status.isVisible()).toBe(true);
    expect(await status.getAttribute('role')).toBe('status');
    // A refused change says so instead.
    await page.getByTestId('fallback-model').selectOption('gpt-4o');
    await page.getByTestId('save-settings').click();
    await expect.poll(() => status.textContent()).toContain('Not saved');
    expect(await status.getAttribute('class')).toContain('failure');
    await closePage(page);
  });

  it('Configuration persists after page reload', async () => {
    const page = await openConsole();
    await page.getByTestId('primary-model').selectOption('claude-haiku-4-5');
    await page.getByTestId('fallback-model').selectOption('gpt-4.1');
    await page.getByTestId('save-settings').click();
    await expect.poll(() => page.getByTestId('save-status').getAttribute('class')).toContain('success');
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.getByTestId('primary-model').inputValue()).toBe('claude-haiku-4-5');
    expect(await page.getByTestId('fallback-model').inputValue()).toBe('gpt-4.1');
    expect(await page.getByTestId('fallback-toggle').isChecked()).toBe(true);
    expect(await page.getByTestId('settings-meta').textContent()).toContain(`by ${ADMIN_IDENTITY}`);
    await closePage(page);
  });

  it('Fallback dropdown is disabled when toggle is off', async () => {
    const page = await openConsole();
    const fallback = page.getByTestId('fallback-model');
    expect(await fallback.isDisabled()).toBe(false);
    await page.getByTestId('fallback-toggle-track').click();
    expect(await page.getByTestId('fallback-toggle').isChecked()).toBe(false);
    expect(await fallback.isDisabled()).toBe(true);
    expect(await page.getByTestId('fallback-field').getAttribute('class')).toContain('is-disabled');
    await page.getByTestId('fallback-toggle-track').click();
    expect(await fallback.isDisabled()).toBe(false);
    // Saved off, it loads disabled.
    await h.db.settings.update({ ...DEFAULT_SETTINGS, enableFallback: false }, 'test');
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    expect(await fallback.isDisabled()).toBe(true);
    await closePage(page);
  });

  it('Help text changes based on selected model', async () => {
    const page = await openConsole();
    const primaryHelp = page.getByTestId('primary-help');
    const fallbackHelp = page.getByTestId('fallback-help');
    expect(await primaryHelp.textContent()).toContain(findModel('gpt-4o-mini')!.description);
    expect(await fallbackHelp.textContent()).toContain(findModel('claude-sonnet-4-6')!.description);
    for (const id of ['gpt-4o', 'claude-opus-4-1', 'gpt-4.1-mini']) {
      await page.getByTestId('primary-model').selectOption(id);
      const text = await primaryHelp.textContent();
      expect(text).toContain(findModel(id)!.description);
      expect(text).toContain(fmtUsd(perWorkflow(id)));
    }
    await page.getByTestId('fallback-model').selectOption('claude-3-5-haiku');
    expect(await fallbackHelp.textContent()).toContain(findModel('claude-3-5-haiku')!.description);
    expect(await page.getByTestId('toggle-help').textContent()).toContain('Claude 3.5 Haiku');
    await page.getByTestId('fallback-toggle-track').click();
    expect(await page.getByTestId('toggle-help').textContent()).toMatch(/^Off: /);
    expect(await fallbackHelp.textContent()).toContain('not used while fallback is off');
    await closePage(page);
  });

  it('Cost comparison displays correctly', async () => {
    const page = await openConsole();
    const check = async (primary: string, fallback: string, volume: number, ratePct: number) => {
      const p = perWorkflow(primary);
      const f = perWorkflow(fallback);
      const rows = {
        'cost-row-primary-only': p,
        'cost-row-fallback-only': f,
        'cost-row-blended': p + (ratePct / 100) * f,
      };
      for (const [row, per] of Object.entries(rows)) {
        expect(await figure(page, row, 'per-workflow')).toBeCloseTo(per, 12);
        expect(await figure(page, row, 'monthly')).toBeCloseTo(per * volume, 9);
        expect(await figure(page, row, 'annual')).toBeCloseTo(per * volume * 12, 8);
        expect(await figure(page, row, 'annual-savings')).toBeCloseTo((f - per) * volume * 12, 8);
        expect(await page.getByTestId(row).getByTestId('per-workflow').textContent()).toBe(fmtUsd(per));
        expect(await page.getByTestId(row).getByTestId('monthly').textContent()).toBe(fmtUsd(per * volume));
      }
      expect(await page.getByTestId('cost-row-primary-only').getByTestId('scenario').textContent()).toContain(findModel(primary)!.label);
      expect(await page.getByTestId('cost-row-fallback-only').getByTestId('scenario').textContent()).toContain(findModel(fallback)!.label);
    };
    expect(await page.getByTestId('cost-basis').getAttribute('data-basis')).toBe('typical');
    // The seed's scenario: 10,000 workflows a month, 5% fallback.
    await check('gpt-4o-mini', 'claude-sonnet-4-6', 10_000, 5);
    expect(await page.getByTestId('cost-row-blended').getByTestId('monthly').textContent()).toBe('$23.70');
    expect(await page.getByTestId('cost-row-fallback-only').getByTestId('monthly').textContent()).toBe('$255.00');
    await page.getByTestId('primary-model').selectOption('gpt-4.1-mini');
    await page.getByTestId('fallback-model').selectOption('claude-haiku-4-5');
    await check('gpt-4.1-mini', 'claude-haiku-4-5', 10_000, 5);
    await closePage(page);
  });
});

describe('projections', () => {
  it('recompute monthly and annual cost and savings from the inputs in real time', async () => {
    const page = await openConsole();
    const p = perWorkflow('gpt-4o-mini');
    const f = perWorkflow('claude-sonnet-4-6');
    const expectProjection = async (volume: number, rate: number, fallbackOn: boolean) => {
      const per = fallbackOn ? p + rate * f : p;
      expect(await figure(page, 'projection-monthly')).toBeCloseTo(per * volume, 9);
      expect(await figure(page, 'projection-annual')).toBeCloseTo(per * volume * 12, 8);
      expect(await figure(page, 'projection-savings-monthly')).toBeCloseTo((f - per) * volume, 9);
      expect(await figure(page, 'projection-savings-annual')).toBeCloseTo((f - per) * volume * 12, 8);
      expect(await figure(page, 'projection-savings-percent')).toBeCloseTo(((f - per) / f) * 100, 9);
      expect(await page.getByTestId('projection-annual').textContent()).toBe(fmtUsd(per * volume * 12));
    };
    await expectProjection(10_000, 0.05, true);
    expect(await page.getByTestId('projection-monthly').textContent()).toBe('$23.70');
    expect(await page.getByTestId('projection-annual').textContent()).toBe('$284.40');

    await page.getByTestId('projection-volume').fill('250000');
    await expectProjection(250_000, 0.05, true);
    await page.getByTestId('projection-fallback-rate').fill('12.5');
    await expectProjection(250_000, 0.125, true);
    expect(await figure(page, 'cost-row-blended', 'per-workflow')).toBeCloseTo(p + 0.125 * f, 12);
    // Fallback off: the projection is the primary alone.
    await page.getByTestId('fallback-toggle-track').click();
    await expectProjection(250_000, 0.125, false);
    // Another primary moves everything at once, before any save.
    await page.getByTestId('fallback-toggle-track').click();
    await page.getByTestId('primary-model').selectOption('gpt-4o');
    const p2 = perWorkflow('gpt-4o');
    expect(await figure(page, 'projection-monthly')).toBeCloseTo((p2 + 0.125 * f) * 250_000, 8);
    await closePage(page);
  });
});

describe('live figures', () => {
  const DAY = 24 * 3600 * 1000;
  const mini = { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true } satisfies OrchestratorSettings;

  /** Rows as the worker writes them: 20 requests this week (1 fell back), 6 more ten days ago (3 fell back, 1 failed), 1 too old to count. */
  async function seed() {
    const db = h.db.db;
    const now = Date.now();
    const requests: { job: string; at: number; primary: string; fallback?: string; status: 'succeeded' | 'failed'; cost: number }[] = [];
    for (let i = 0; i < 19; i++) requests.push({ job: `ui-w-ok-${i}`, at: now - DAY, primary: 'ok', status: 'succeeded', cost: 0.001 });
    requests.push({ job: 'ui-w-fb-0', at: now - DAY, primary: 'schema', fallback: 'ok', status: 'succeeded', cost: 0.03 });
    for (let i = 0; i < 3; i++) requests.push({ job: `ui-m-ok-${i}`, at: now - 10 * DAY, primary: 'ok', status: 'succeeded', cost: 0.001 });
    for (let i = 0; i < 2; i++) requests.push({ job: `ui-m-fb-${i}`, at: now - 10 * DAY, primary: 'truncated', fallback: 'ok', status: 'succeeded', cost: 0.03 });
    requests.push({ job: 'ui-m-failed', at: now - 10 * DAY, primary: 'timeout', fallback: 'api_error', status: 'failed', cost: 0 });
    requests.push({ job: 'ui-old-ok', at: now - 40 * DAY, primary: 'ok', status: 'succeeded', cost: 0.001 });

    for (const r of requests) {
      const at = new Date(r.at);
      const attempt = (n: number, role: 'primary' | 'fallback', outcome: string, cost: number) => ({
        jobId: r.job,
        attemptNumber: n,
        model: role === 'primary' ? 'gpt-4o-mini' : 'claude-sonnet-4-6',
        provider: role === 'primary' ? 'openai' : 'anthropic',
        role,
        outcome,
        inputTokens: outcome === 'ok' || outcome === 'schema' || outcome === 'truncated' ? 2_500 : 0,
        outputTokens: outcome === 'ok' || outcome === 'schema' || outcome === 'truncated' ? 1_200 : 0,
        costUsd: cost.toFixed(12),
        latencyMs: 800,
        settings: mini,
        startedAt: at,
        finishedAt: at,
      });
      const answered = ['ok', 'schema', 'truncated'].includes(r.primary);
      const attempts = [attempt(1, 'primary', r.primary, answered ? 0.001 : 0)];
      if (r.fallback) attempts.push(attempt(2, 'fallback', r.fallback, r.fallback === 'ok' ? 0.029 : 0));
      await db.insert(generationAttempts).values(attempts);
      await db.insert(workflowGenerations).values({ jobId: r.job, request: { seeded: true }, status: r.status, costUsd: r.cost.toFixed(12), createdAt: at, finishedAt: at, primaryModel: 'gpt-4o-mini' });
      if (r.fallback) {
        await db.insert(auditLogs).values({ action: 'WORKFLOW_GENERATION_FALLBACK', severity: 'warning', jobId: r.job, timestamp: at, details: { primary_model: 'gpt-4o-mini', fallback_model: 'claude-sonnet-4-6', reason: r.primary } });
      }
      const generator = r.fallback ? 'claude-sonnet-4-6' : 'gpt-4o-mini';
      await db.insert(auditLogs).values(
        r.status === 'succeeded'
          ? { action: 'WORKFLOW_GENERATED', severity: 'info', jobId: r.job, timestamp: at, details: { generator_used: generator, primary_model: 'gpt-4o-mini', fallback_model: 'claude-sonnet-4-6', cost_usd: r.cost, validation_passed: true, fallback_reason: r.fallback ? r.primary : null } }
          : { action: 'WORKFLOW_GENERATION_FAILED', severity: 'error', jobId: r.job, timestamp: at, details: { reason: 'api_error', cost_usd: r.cost, fallback_reason: r.primary } },
      );
    }
  }

  async function unseed() {
    const db = h.db.db;
    await db.delete(generationAttempts).where(like(generationAttempts.jobId, 'ui-%'));
    await db.delete(workflowGenerations).where(like(workflowGenerations.jobId, 'ui-%'));
    await db.delete(auditLogs).where(like(auditLogs.jobId, 'ui-%'));
  }

  it('show the fallback rate, pass rates, spend, cost per workflow, savings and flow counts for 7 and 30 days', async () => {
    await seed();
    try {
      const page = await openConsole();
      // 7 days: 1 of 20 fell back (5%: on target); gpt-4o-mini passed 19 of 20 answers (95%: on target).
      expect(await figure(page, 'fallback-rate-value')).toBe(5);
      expect(await page.getByTestId('fallback-rate-value').textContent()).toBe('5.00%');
      expect(await page.getByTestId('fallback-rate-status').getAttribute('class')).toContain('ok');
      expect(await page.getByTestId('fallback-rate-detail').textContent()).toContain('1 of 20');
      expect(await figure(page, 'primary-pass-rate-value')).toBe(95);
      expect(await page.getByTestId('primary-pass-rate-status').getAttribute('class')).toContain('ok');
      expect(await figure(page, 'validation-row-gpt-4o-mini', 'answered')).toBe(20);
      expect(await figure(page, 'validation-row-gpt-4o-mini', 'passed')).toBe(19);
      expect(await page.getByTestId('validation-row-gpt-4o-mini').getByTestId('failures').textContent()).toBe('schema 1');
      expect(await figure(page, 'validation-row-claude-sonnet-4-6', 'rate')).toBe(100);
      expect(await figure(page, 'spend-row-gpt-4o-mini', 'workflows')).toBe(19);
      expect(await figure(page, 'spend-row-gpt-4o-mini', 'total')).toBeCloseTo(0.019, 12);
      expect(await figure(page, 'spend-row-claude-sonnet-4-6', 'average')).toBeCloseTo(0.03, 12);
      expect(await figure(page, 'model-spend-row-gpt-4o-mini', 'spend')).toBeCloseTo(0.02, 12);
      expect(await figure(page, 'model-spend-row-claude-sonnet-4-6', 'spend')).toBeCloseTo(0.029, 12);
      // $0.049 spent on 20 usable workflows; everything on Sonnet at its measured $0.029 would be $0.58.
      expect(await figure(page, 'cost-per-workflow-value')).toBeCloseTo(0.049 / 20, 12);
      expect(await page.getByTestId('cost-per-workflow-value').textContent()).toBe('$0.00245');
      expect(await figure(page, 'savings-value')).toBeCloseTo(0.58 - 0.049, 12);
      expect(Number(await page.getByTestId('savings-value').getAttribute('data-percent'))).toBe(91.55);
      const edges = { 'flow-edge-enqueue-primary': 20, 'flow-edge-primary-validate': 20, 'flow-edge-validate-fallback': 1, 'flow-edge-fallback-persist': 1, 'flow-edge-validate-persist': 19 };
      for (const [edge, n] of Object.entries(edges)) expect(await figure(page, edge, 'count'), edge).toBe(n);
      expect(await page.getByTestId('flow-persisted').textContent()).toContain('20 succeeded');

      // The committed screenshot is refreshed on request (UPDATE_SCREENSHOT=1), so a test run
      // never dirties the working tree; otherwise it goes to a temporary file, still checked.
      const shot = process.env.UPDATE_SCREENSHOT === '1' ? SCREENSHOT : join(tmpdir(), `admin-page-${process.pid}.png`);
      mkdirSync(dirname(shot), { recursive: true });
      await page.screenshot({ path: shot, fullPage: true });

      // 30 days: 3 of 25 fell back (12%: over target); gpt-4o-mini passed 22 of 25 answers (88%: under).
      await page.getByTestId('window-30').click();
      await expect.poll(() => page.getByTestId('flow-window').textContent()).toBe('last 30 days');
      expect(await figure(page, 'fallback-rate-value')).toBe(12);
      expect(await page.getByTestId('fallback-rate-status').getAttribute('class')).toContain('bad');
      expect(await figure(page, 'primary-pass-rate-value')).toBe(88);
      expect(await page.getByTestId('primary-pass-rate-status').getAttribute('class')).toContain('bad');
      expect(await page.getByTestId('validation-row-gpt-4o-mini').getByTestId('failures').textContent()).toBe('truncated 2, schema 1');
      expect(await figure(page, 'spend-row-claude-sonnet-4-6', 'workflows')).toBe(3);
      expect(await figure(page, 'spend-row-claude-sonnet-4-6', 'total')).toBeCloseTo(0.09, 12);
      expect(await figure(page, 'model-spend-row-gpt-4o-mini', 'attempts')).toBe(26);
      expect(await figure(page, 'cost-per-workflow-value')).toBeCloseTo(0.112 / 25, 12);
      expect(await figure(page, 'savings-value')).toBeCloseTo(26 * 0.029 - 0.112, 12);
      expect(Number(await page.getByTestId('savings-value').getAttribute('data-percent'))).toBe(85.15);
      const edges30 = { 'flow-edge-enqueue-primary': 26, 'flow-edge-primary-validate': 25, 'flow-edge-validate-fallback': 4, 'flow-edge-fallback-persist': 4, 'flow-edge-validate-persist': 22 };
      for (const [edge, n] of Object.entries(edges30)) expect(await figure(page, edge, 'count'), edge).toBe(n);
      expect(await page.getByTestId('flow-primary-call-failures').textContent()).toBe('1 call failure');
      expect(await page.getByTestId('flow-persisted').textContent()).toContain('25 succeeded · 0 invalid · 1 failed');

      // The page refreshes its figures: a new row shows after Refresh.
      await h.db.db.insert(auditLogs).values({ action: 'WORKFLOW_GENERATED', severity: 'info', jobId: 'ui-late', details: { generator_used: 'gpt-4o-mini', cost_usd: 0.001, validation_passed: true, fallback_reason: null } });
      await page.getByTestId('refresh-stats').click();
      await expect.poll(() => page.getByTestId('fallback-rate-detail').textContent()).toContain('3 of 26');
      await closePage(page);
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await unseed();
    }
  });

  it('agree with the stats API the page reads', async () => {
    await seed();
    try {
      const r = await call(producer.url, 'GET', '/v1/admin/stats?days=7', { headers: adminAuth });
      expect(r.body.fallbackRate).toEqual({ total: 20, fallbacks: 1, percent: 5, meetsTarget: true });
      expect(r.body.savings).toMatchObject({ baselineModel: 'claude-sonnet-4-6', baselineBasis: 'measured', baselineCostPerWorkflowUsd: 0.029 });
      const catalog = await call(producer.url, 'GET', '/v1/admin/catalog', { headers: adminAuth });
      // 25 successful attempts in 30 days, each 2,500 in and 1,200 out: the measured basis.
      expect(catalog.body).toMatchObject({ basis: 'measured', sampleSize: 25, usage: { inputTokens: 2_500, outputTokens: 1_200 } });
    } finally {
      await unseed();
    }
  });
});

describe('robustness', () => {
  it('tells the admin when the stored settings are invalid, and saving valid ones fixes it', async () => {
    await h.db.db.update(systemSettingsConfig).set({ value: 'gpt-9' }).where(eq(systemSettingsConfig.key, 'orchestrator_primary_model'));
    const page = await openConsole();
    await expect.poll(() => page.getByTestId('load-error').textContent()).toContain('invalid');
    expect(await page.getByTestId('primary-model').inputValue()).toBe('gpt-9');
    await page.getByTestId('primary-model').selectOption('gpt-4o-mini');
    await page.getByTestId('save-settings').click();
    await expect.poll(() => page.getByTestId('save-status').getAttribute('class')).toContain('success');
    expect(await page.getByTestId('load-error').isHidden()).toBe(true);
    await closePage(page);
  });

  it('opens bull-board with the same session', async () => {
    const page = await openConsole();
    await page.getByTestId('link-queues').click();
    await page.waitForURL(/\/admin\/queues/);
    await expect.poll(() => page.content(), { timeout: 10_000 }).toContain('workflow-generation-fallback');
    await closePage(page);
  });
});
