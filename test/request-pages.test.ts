/**
 * The request log's pages in Chromium, over requests real workers ran: the log with its filters
 * in the URL, a link to each request, and one request's page with its attempts and audit rows.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.ts';
import type { RunningProducer } from '../producer/server.ts';
import { goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { ADMIN_TOKEN, producerPool } from './helpers/producer.ts';

const SHOT = fileURLToPath(new URL('../docs/request-page.png', import.meta.url));

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let producer: RunningProducer;
let browser: Browser;
const ids: string[] = [];

beforeAll(async () => {
  h = await startHarness('request-pages');
  await h.startWorker();
  pool = producerPool(h.env);
  producer = await pool.start();
  for (const [i, directives] of [[0, []], [1, []], [2, ['gpt-4o-mini=schema']]] as const) {
    ids.push(await h.client.enqueue({ userId: i === 2 ? 'carol' : 'alice', agentId: `agent-${i}`, userGoal: goal(`Every morning summarise unread emails and post to Slack (${i})`, ...directives), availablePlugins: PLUGINS }));
    await h.client.waitForResult(ids[i]!, { timeoutMs: 30_000 });
  }
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await pool?.closeAll();
  await h?.close();
});

async function signedIn(path: string): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${producer.url}${path}`);
  expect(new URL(page.url()).pathname).toBe('/admin/login');
  await page.getByTestId('login-token').fill(ADMIN_TOKEN);
  await page.getByTestId('login-submit').click();
  await page.waitForSelector('body[data-ready="true"]');
  await page.goto(`${producer.url}${path}`);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, problems };
}

describe('request pages', () => {
  it('the log lists requests newest first, filters through the URL, and links to each request', async () => {
    const { page, problems } = await signedIn('/admin/requests');
    const rows = page.locator('#log-body tr');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.first().getAttribute('data-testid')).toBe(`log-row-${ids[2]}`);

    // The fallback events, linked to their requests.
    expect(await page.getByTestId(`fallback-${ids[2]}`).locator('td').nth(2).textContent()).toBe('schema');
    expect(await page.getByTestId(`fallback-${ids[2]}`).getByRole('link').getAttribute('href')).toBe(`/admin/requests/${ids[2]}`);

    await page.getByTestId('filter-user').fill('carol');
    await page.getByTestId('apply-filters').click();
    await page.waitForSelector('body[data-ready="true"]');
    expect(new URL(page.url()).searchParams.get('userId')).toBe('carol');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await page.getByTestId('filter-user').inputValue()).toBe('carol');
    expect(await page.getByTestId('csv-link').getAttribute('href')).toBe('/v1/admin/generations?userId=carol&format=csv');

    await page.getByTestId(`log-row-${ids[2]}`).getByRole('link').click();
    await page.waitForSelector('body[data-ready="true"]');
    expect(new URL(page.url()).pathname).toBe(`/admin/requests/${ids[2]}`);
    expect(await page.getByTestId('detail-id').textContent()).toBe(ids[2]);
    await page.context().close();
    expect(problems).toEqual([]);
  });

  it("one request's page shows its attempts, audit rows, settings and workflow", async () => {
    const { page, problems } = await signedIn(`/admin/requests/${ids[2]}`);
    expect(await page.getByTestId('summary-status').textContent()).toBe('succeeded');
    expect(await page.getByTestId('summary-fallback-reason').textContent()).toBe('schema');
    const first = page.getByTestId('attempt-1');
    expect(await first.locator('td').nth(1).textContent()).toBe('primary');
    expect(await first.locator('td').nth(3).textContent()).toBe('schema');
    expect(await first.locator('td').nth(9).textContent()).toMatch(/^\//);
    expect(await page.getByTestId('attempt-2').locator('td').nth(3).textContent()).toBe('ok');
    expect(await page.getByTestId('audit-WORKFLOW_GENERATION_FALLBACK').count()).toBe(1);
    expect(await page.getByTestId('audit-WORKFLOW_GENERATED').count()).toBe(1);
    expect(await page.getByTestId('detail-settings').textContent()).toContain('"primaryModel": "gpt-4o-mini"');
    expect(await page.getByTestId('detail-workflow').textContent()).toContain('pilot_steps');

    const shot = process.env.UPDATE_SCREENSHOT === '1' ? SHOT : join(tmpdir(), `request-page-${process.pid}.png`);
    mkdirSync(dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    await page.context().close();
    expect(problems).toEqual([]);
  });

  it('an unknown request says so', async () => {
    const { page } = await signedIn('/admin/requests/no-such-job');
    expect(await page.getByTestId('load-error').textContent()).toContain('no request no-such-job');
    await page.context().close();
  });
});
