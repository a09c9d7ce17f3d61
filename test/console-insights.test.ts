/**
 * Where the money goes and what the models write, over requests real workers ran (plus attempts
 * written three days back): spend over time per model in buckets, the top users and agents by
 * spend with links to their requests, and the latest workflows of two models for similar goals
 * side by side. The API against Postgres's own sums, and the console and its pages in Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findModel } from '../shared/default-catalog.ts';
import { formatUsd, parseUsd } from '../shared/money.ts';
import { type ConsoleFixture, DESKTOP, signIn, startConsoleFixture } from './helpers/console.ts';
import { goal, PLUGINS } from './helpers/harness.ts';
import { adminAuth, call } from './helpers/producer.ts';

const PRIMARY = 'gpt-4o-mini';
const FALLBACK = 'claude-sonnet-4-6';
const OLD_COST = '0.250000000000';

let fixture: ConsoleFixture;
const ids: Record<string, string> = {};

async function run(key: string, userId: string, agentId: string, text: string, ...directives: string[]) {
  ids[key] = await fixture.harness.client.enqueue({ userId, agentId, userGoal: goal(text, ...directives), availablePlugins: PLUGINS });
  await fixture.harness.client.waitForResult(ids[key]!, { timeoutMs: 30_000 });
}

beforeAll(async () => {
  fixture = await startConsoleFixture('console-insights', { resetSettings: true });
  await fixture.harness.startWorker();
  // The same agent twice: once written by the primary, once by the fallback after a schema failure.
  await run('mailPrimary', 'alice', 'agent-mail', 'Every morning summarise unread emails and post the summary to Slack');
  await run('mailFallback', 'alice', 'agent-mail', 'Every morning summarise unread emails and post the summary to Slack', `${PRIMARY}=schema`);
  // Other agents, goals sharing most of their words, one per model.
  await run('sheetPrimary', 'bob', 'agent-sheet-1', 'Append each new invoice email to the finance spreadsheet weekly');
  await run('sheetFallback', 'carol', 'agent-sheet-2', 'Append each new invoice email to the finance spreadsheet daily', `${PRIMARY}=schema`);
  // Three days back: a request of dave's, beyond the 24-hour window, inside the 7-day one.
  await fixture.harness.db.sql`INSERT INTO workflow_generations (job_id, user_id, agent_id, request, status, created_at)
                 VALUES ('old-1', 'dave', 'agent-old', '{"userGoal":"old"}', 'failed', now() - interval '3 days')`;
  await fixture.harness.db.sql`INSERT INTO generation_attempts (job_id, attempt_number, model, provider, role, outcome, cost_usd, latency_ms, settings, started_at, finished_at)
                 VALUES ('old-1', 1, ${FALLBACK}, 'anthropic', 'primary', 'timeout', ${OLD_COST}, 1000, '{}', now() - interval '3 days', now() - interval '3 days')`;
}, 120_000);

afterAll(() => fixture?.close());

const get = (path: string) => call(fixture.producer.url, 'GET', path, { headers: adminAuth });

/** Postgres's own sum of attempt costs, per model, over `interval`, as exact strings. */
async function dbSpend(interval: string): Promise<Record<string, string>> {
  const rows = await fixture.harness.db.sql<{ model: string; cost: string }[]>`SELECT model, sum(cost_usd)::text AS cost FROM generation_attempts WHERE started_at > now() - ${interval}::interval GROUP BY model`;
  return Object.fromEntries(rows.map((r) => [r.model, r.cost]));
}

async function dbSpendBy(column: 'user_id' | 'agent_id', interval: string): Promise<Record<string, string>> {
  const rows = await fixture.harness.db.sql<{ id: string; cost: string }[]>`
    SELECT g.${fixture.harness.db.sql(column)} AS id, sum(a.cost_usd)::text AS cost FROM generation_attempts a JOIN workflow_generations g USING (job_id)
     WHERE a.started_at > now() - ${interval}::interval GROUP BY 1`;
  return Object.fromEntries(rows.map((r) => [r.id, r.cost]));
}

describe('spend over time', () => {
  it('buckets every attempt per model: 7 days in 6-hour buckets, the old attempt three days back, sums equal to Postgres’s', async () => {
    const res = await get('/v1/admin/spend?window=7d');
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ window: '7d', bucketSeconds: 21_600 });
    expect(res.body.buckets).toHaveLength(28);
    const starts = res.body.buckets.map((b: string) => Date.parse(b));
    expect(starts.every((t: number, i: number) => i === 0 || t - starts[i - 1] === 21_600_000)).toBe(true);
    expect(starts[0] % 21_600_000).toBe(0);
    const expected = await dbSpend('8 days');
    expect(Object.fromEntries(res.body.series.map((s: { model: string; totalUsdExact: string }) => [s.model, s.totalUsdExact]))).toEqual(
      Object.fromEntries(Object.entries(expected).map(([m, c]) => [m, formatUsd(parseUsd(c))])),
    );
    // The back-dated attempt sits alone in its bucket, about three days (12 buckets) before the last.
    const fallback = res.body.series.find((s: { model: string }) => s.model === FALLBACK);
    const oldIndex = fallback.costUsd.findIndex((c: number) => c === Number(OLD_COST));
    expect(oldIndex).toBeGreaterThanOrEqual(27 - 13);
    expect(oldIndex).toBeLessThanOrEqual(27 - 11);
    for (const s of res.body.series) expect(s.costUsd).toHaveLength(28);
  });

  it('over the last hour: 5-minute buckets, the old attempt left out', async () => {
    const res = await get('/v1/admin/spend?window=1h');
    expect(res.body).toMatchObject({ window: '1h', bucketSeconds: 300 });
    expect(res.body.buckets).toHaveLength(12);
    const expected = await dbSpend('1 hour');
    const got = Object.fromEntries(res.body.series.map((s: { model: string; totalUsdExact: string }) => [s.model, s.totalUsdExact]));
    expect(got).toEqual(Object.fromEntries(Object.entries(expected).map(([m, c]) => [m, formatUsd(parseUsd(c))])));
    expect(Object.keys(got).sort()).toEqual([FALLBACK, PRIMARY].sort());
    expect((await get('/v1/admin/spend?window=2h')).status).toBe(400);
  });
});

describe('top spenders', () => {
  it('ranks users and agents by the spend of their requests’ attempts, with shares of the window’s spend', async () => {
    const week = await get('/v1/admin/top-spenders?window=7d&by=user');
    expect(week.status, week.text).toBe(200);
    const expected = await dbSpendBy('user_id', '7 days');
    expect(Object.fromEntries(week.body.items.map((i: { id: string; costUsdExact: string }) => [i.id, i.costUsdExact]))).toEqual(
      Object.fromEntries(Object.entries(expected).map(([id, c]) => [id, formatUsd(parseUsd(c))])),
    );
    const costs = week.body.items.map((i: { costUsd: number }) => i.costUsd);
    expect(costs).toEqual([...costs].sort((a, b) => b - a));
    // dave's one attempt ($0.25) is the most expensive thing in the week.
    expect(week.body.items[0]).toMatchObject({ id: 'dave', requests: 1, attempts: 1 });
    expect(week.body.items.reduce((n: number, i: { sharePercent: number }) => n + i.sharePercent, 0)).toBeGreaterThan(99.9);
    // alice: two requests, three attempts (one wasted on a schema failure).
    expect(week.body.items.find((i: { id: string }) => i.id === 'alice')).toMatchObject({ requests: 2, attempts: 3 });

    const day = await get('/v1/admin/top-spenders?window=24h&by=agent&limit=2');
    expect(day.body.items).toHaveLength(2);
    expect(day.body.items.map((i: { id: string }) => i.id)).not.toContain('agent-old');
    const agents = await dbSpendBy('agent_id', '24 hours');
    const top = Object.entries(agents).sort((a, b) => Number(b[1]) - Number(a[1]))[0]!;
    expect(day.body.items[0]).toMatchObject({ id: top[0], costUsdExact: formatUsd(parseUsd(top[1])) });
    expect((await get('/v1/admin/top-spenders?by=team')).status).toBe(400);
  });
});

describe('side by side', () => {
  it('pairs the configured primary’s and fallback’s latest workflows for similar goals', async () => {
    const res = await get('/v1/admin/side-by-side');
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ modelA: PRIMARY, modelB: FALLBACK, candidates: { a: 2, b: 2 } });
    const pairs = res.body.pairs as { basis: string; similarity: number; sharedWords: string[]; a: { id: string; workflow: { pilot_steps: unknown[] } }; b: { id: string } }[];
    expect(pairs.map((p) => [p.a.id, p.b.id, p.basis])).toEqual([
      [ids.sheetPrimary, ids.sheetFallback, 'shared_words'],
      [ids.mailPrimary, ids.mailFallback, 'same_agent'],
    ]);
    expect(pairs[0]!.similarity).toBeGreaterThanOrEqual(0.5);
    expect(pairs[0]!.sharedWords).toEqual(expect.arrayContaining(['invoice', 'spreadsheet', 'finance']));
    expect(pairs[0]!.a.workflow.pilot_steps.length).toBeGreaterThan(0);

    // Any two models; none of Claude Haiku's workflows exist, so nothing pairs.
    const other = await get(`/v1/admin/side-by-side?modelA=claude-haiku-4-5&modelB=${FALLBACK}`);
    expect(other.body).toMatchObject({ modelA: 'claude-haiku-4-5', pairs: [] });
    const same = await get(`/v1/admin/side-by-side?modelA=${PRIMARY}&modelB=${PRIMARY}`);
    expect([same.status, same.body.error.details[0].path]).toEqual([400, '/modelB']);
  });
});

/** `path` in a fresh context, signed in; a page error or an error on its console is a problem. */
const signedIn = (path: string, viewport = DESKTOP) => signIn(fixture.browser, fixture.producer.url, { path, viewport, problemsFrom: ['pageerror', 'console'] });

describe('the console', () => {
  it('draws spend over time per model with uPlot, lists top users and agents, and links each to its requests', async () => {
    const { page, problems } = await signedIn('/admin');
    await page.waitForSelector('[data-testid="spend-card"][data-ready="true"]');
    const chart = page.getByTestId('spend-chart');
    expect(await chart.getAttribute('data-buckets')).toBe('28');
    expect((await chart.getAttribute('data-series'))!.split(',').sort()).toEqual([FALLBACK, PRIMARY].sort());
    expect(await chart.locator('canvas').count()).toBe(1);
    const legend = await chart.locator('.u-legend').textContent();
    expect(legend).toContain(findModel(PRIMARY)!.label);
    expect(legend).toContain(findModel(FALLBACK)!.label);
    expect(await page.getByTestId(`spend-series-${FALLBACK}`).locator('td').first().textContent()).toBe(findModel(FALLBACK)!.label);

    expect(await page.locator('#top-users-body tr').first().getAttribute('data-testid')).toBe('top-user-dave');
    expect(await page.getByTestId('top-agent-agent-mail').count()).toBe(1);

    // The 24-hour window: hourly buckets, dave gone.
    await page.getByTestId('window-24h').click();
    await page.waitForSelector('[data-testid="spend-card"][data-window="24h"]');
    expect(await chart.getAttribute('data-buckets')).toBe('24');
    expect(await page.getByTestId('top-user-dave').count()).toBe(0);

    const link = page.getByTestId('top-user-alice').getByRole('link');
    const href = new URL((await link.getAttribute('href'))!, fixture.producer.url);
    expect(href.pathname).toBe('/admin/requests');
    expect(href.searchParams.get('userId')).toBe('alice');
    expect(Date.now() - Date.parse(href.searchParams.get('from')!)).toBeGreaterThan(86_000_000);
    await link.click();
    await page.waitForSelector('body[data-ready="true"]');
    const rows = page.locator('#log-body tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await page.getByTestId(`log-row-${ids.mailFallback}`).count()).toBe(1);
    expect(await page.getByTestId('filter-from').inputValue()).toBe(href.searchParams.get('from'));
    await page.context().close();
    expect(problems).toEqual([]);
  });

  it('opens the two models’ workflows side by side, linked to their requests', async () => {
    const { page, problems } = await signedIn('/admin');
    await page.getByTestId('compare-link').click();
    await page.waitForSelector('body[data-ready="true"]');
    expect(new URL(page.url()).pathname).toBe('/admin/compare');
    expect(await page.getByTestId('compare-model-a').inputValue()).toBe(PRIMARY);
    expect(await page.getByTestId('compare-model-b').inputValue()).toBe(FALLBACK);
    const second = page.getByTestId('pair-1');
    expect(await second.textContent()).toContain('same agent agent-mail');
    expect(await second.getByTestId('side-a').getByRole('link').getAttribute('href')).toBe(`/admin/requests/${ids.mailPrimary}`);
    expect(await second.getByTestId('side-b').getByRole('link').getAttribute('href')).toBe(`/admin/requests/${ids.mailFallback}`);
    expect(await second.getByTestId('side-a').locator('ol.steps > li').count()).toBeGreaterThan(0);
    // The two sides sit next to each other on a desktop.
    const [a, b] = [await second.getByTestId('side-a').boundingBox(), await second.getByTestId('side-b').boundingBox()];
    expect(b!.x).toBeGreaterThan(a!.x + a!.width - 1);
    expect(Math.abs(b!.y - a!.y)).toBeLessThan(2);

    // Any two models, through the URL.
    await page.getByTestId('compare-model-a').selectOption('claude-haiku-4-5');
    await page.getByTestId('compare-submit').click();
    await page.waitForSelector('body[data-ready="true"]');
    expect(new URL(page.url()).searchParams.get('modelA')).toBe('claude-haiku-4-5');
    expect(await page.getByTestId('compare-summary').textContent()).toMatch(/^0 pairs/);
    await page.context().close();
    expect(problems).toEqual([]);
  });

  it('on a phone (390 × 844) the chart and the side-by-side page fit the width', async () => {
    for (const path of ['/admin', '/admin/compare']) {
      const { page } = await signedIn(path, { width: 390, height: 844 });
      if (path === '/admin') await page.waitForSelector('[data-testid="spend-card"][data-ready="true"]');
      expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(390);
      await page.context().close();
    }
  });
});
