/**
 * The request log's pages in Chromium, over requests real workers ran: the log with its filters
 * in the URL, a link to each request, and one request's page with its attempts and audit rows.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleFixture, signIn, startConsoleFixture } from './helpers/console.ts';
import { goal, PLUGINS } from './helpers/harness.ts';

const SHOT = fileURLToPath(new URL('../docs/request-page.png', import.meta.url));

let fixture: ConsoleFixture;
const ids: string[] = [];

beforeAll(async () => {
  fixture = await startConsoleFixture('request-pages');
  await fixture.harness.startWorker();
  for (const [i, directives] of [[0, []], [1, []], [2, ['gpt-4o-mini=schema']]] as const) {
    ids.push(await fixture.harness.client.enqueue({ userId: i === 2 ? 'carol' : 'alice', agentId: `agent-${i}`, userGoal: goal(`Every morning summarise unread emails and post to Slack (${i})`, ...directives), availablePlugins: PLUGINS }));
    await fixture.harness.client.waitForResult(ids[i]!, { timeoutMs: 30_000 });
  }
}, 120_000);

afterAll(() => fixture?.close());

/** `path` in a fresh context, signed in on the way: the page sends a browser without a session to the login form. */
const signedIn = (path: string) => signIn(fixture.browser, fixture.producer.url, { path });

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
