/**
 * The console's looks and access in a real headless Chromium (Debian's, via playwright-core):
 * no sideways scrolling on a phone (tables scroll by themselves), the fallback switch's contrast,
 * no Log out without auth, and bull-board with nothing fetched from elsewhere and a way back.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProducer } from '../producer/server.ts';
import { servedQueueBoardPage } from '../producer/routes/queues.ts';
import { type ConsoleFixture, signIn, STATS_READY, startConsoleFixture, type Viewport } from './helpers/console.ts';

const MOBILE_SHOT = fileURLToPath(new URL('../docs/admin-page-mobile.png', import.meta.url));
const PHONE = { width: 390, height: 844 };

let fixture: ConsoleFixture;
/** The same console with auth off: no session, so nothing to log out of. */
let openProducer: RunningProducer;

beforeAll(async () => {
  fixture = await startConsoleFixture('console-looks');
  openProducer = await fixture.producers.start({ AUTH_DISABLED: 'true', PRODUCER_API_TOKENS: '', ADMIN_API_TOKEN: '' });
});

afterAll(() => fixture?.close());

/** A logged-in context at the given viewport; every request it makes is recorded, and anything failing in it is a problem. */
const loggedIn = (viewport: Viewport) => signIn(fixture.browser, fixture.producer.url, { viewport, readyWhen: STATS_READY, problemsFrom: ['pageerror', 'requestfailed', 'console'] });

/** WCAG 2 contrast ratio of two `rgb(r, g, b)` colours. */
function contrast(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, bl] = (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

describe('on a phone (390×844)', () => {
  it('the page does not scroll sideways; each table scrolls by itself', async () => {
    const { context, page, problems } = await loggedIn(PHONE);
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(widths.client).toBe(PHONE.width);
    expect(widths.scroll).toBeLessThanOrEqual(PHONE.width);

    const tables = await page.$$eval('table.grid', (els) =>
      els.map((t) => {
        const scroller = t.closest('.table-scroll');
        return {
          id: t.getAttribute('data-testid'),
          overflowX: scroller ? getComputedStyle(scroller).overflowX : null,
          fits: scroller ? scroller.getBoundingClientRect().right <= document.documentElement.clientWidth : false,
          wider: scroller ? t.scrollWidth > scroller.clientWidth : false,
        };
      }),
    );
    expect(tables.length).toBeGreaterThanOrEqual(4);
    for (const t of tables) expect(t, `${t.id}`).toMatchObject({ overflowX: 'auto', fits: true });
    // The cost table has five columns: on a phone it is wider than its box, and scrolls inside it.
    expect(tables.find((t) => t.id === 'cost-table')!.wider).toBe(true);

    const shot = process.env.UPDATE_SCREENSHOT === '1' ? MOBILE_SHOT : join(tmpdir(), `admin-page-mobile-${process.pid}.png`);
    mkdirSync(dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    await context.close();
    expect(problems).toEqual([]);
  });
});

describe('time windows', () => {
  it('offers the last hour, 24 hours, 7 and 30 days, and asks the API for the one picked', async () => {
    const { context, page, requests, problems } = await loggedIn({ width: 1280, height: 900 });
    for (const [id, window, label] of [['window-1h', '1h', 'last hour'], ['window-24h', '24h', 'last 24 hours'], ['window-30', '30d', 'last 30 days'], ['window-7', '7d', 'last 7 days']] as const) {
      const answered = page.waitForResponse((r) => r.url().includes(`/v1/admin/stats?window=${window}`));
      await page.getByTestId(id).click();
      expect((await answered).status()).toBe(200);
      await expect.poll(() => page.getByTestId('flow-window').textContent()).toBe(label);
      expect(await page.getByTestId(id).getAttribute('aria-pressed')).toBe('true');
    }
    expect(requests.some((u) => u.includes('days='))).toBe(false);
    await context.close();
    expect(problems).toEqual([]);
  });
});

describe('projection inputs', () => {
  it('out-of-range values get a field error and no projection, never a silently clamped one', async () => {
    const { context, page, problems } = await loggedIn({ width: 1280, height: 900 });
    const rate = page.getByTestId('projection-fallback-rate');
    const volume = page.getByTestId('projection-volume');
    const monthly = () => page.getByTestId('projection-monthly').getAttribute('data-value');
    expect(await monthly()).not.toBe('');

    await rate.fill('150');
    expect(await page.getByTestId('projection-fallback-rate-error').textContent()).toBe('Enter a rate from 0 to 100%.');
    expect(await page.getByTestId('projection-fallback-rate-error').isVisible()).toBe(true);
    expect(await rate.getAttribute('aria-invalid')).toBe('true');
    expect(await monthly()).toBe('');
    expect(await page.getByTestId('projection-monthly').textContent()).toBe('—');
    expect(await page.getByTestId('projection-scenario').textContent()).toBe('Correct the fields above to see the projection.');

    await rate.fill('12.5');
    expect(await page.getByTestId('projection-fallback-rate-error').isVisible()).toBe(false);
    expect(await rate.getAttribute('aria-invalid')).toBe('false');
    expect(await monthly()).not.toBe('');

    for (const bad of ['-5', '2.5']) {
      await volume.fill(bad);
      expect(await page.getByTestId('projection-volume-error').textContent(), bad).toBe('Enter a whole number of workflows, 0 or more.');
      expect(await monthly(), bad).toBe('');
    }
    await volume.fill('0');
    expect(await page.getByTestId('projection-volume-error').isVisible()).toBe(false);
    expect(await monthly()).toBe('0');
    await context.close();
    expect(problems).toEqual([]);
  });
});

describe('the fallback switch', () => {
  it('has at least 3:1 contrast against the card, off and on (WCAG 1.4.11)', async () => {
    const { context, page } = await loggedIn({ width: 1280, height: 900 });
    const toggle = page.getByTestId('fallback-toggle');
    const colours = async () =>
      page.evaluate(() => {
        const track = document.querySelector('[data-testid="fallback-toggle-track"]')!;
        const card = track.closest('.card')!;
        return { track: getComputedStyle(track).backgroundColor, card: getComputedStyle(card).backgroundColor, knob: getComputedStyle(track.querySelector('.knob')!).backgroundColor };
      });
    if (await toggle.isChecked()) await page.getByTestId('fallback-toggle-track').click();
    await expect.poll(() => toggle.isChecked()).toBe(false);
    // The track's colour is animated: wait for the end of the transition.
    await page.waitForFunction(() => document.getAnimations().length === 0);
    const off = await colours();
    expect(contrast(off.track, off.card)).toBeGreaterThanOrEqual(3);
    expect(contrast(off.track, off.knob)).toBeGreaterThanOrEqual(3);
    await page.getByTestId('fallback-toggle-track').click();
    await page.waitForFunction(() => document.getAnimations().length === 0);
    const on = await colours();
    expect(contrast(on.track, on.card)).toBeGreaterThanOrEqual(3);
    await context.close();
  });
});

describe('Log out', () => {
  it('is offered with auth on and absent with auth off (there is no session to end)', async () => {
    const { context, page } = await loggedIn({ width: 1280, height: 900 });
    expect(await page.getByTestId('logout').count()).toBe(1);
    // The console's other pages too, with who is signed in.
    for (const path of ['/admin/requests', '/admin/compare']) {
      await page.goto(`${fixture.producer.url}${path}`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
      expect(await page.getByTestId('logout').count(), path).toBe(1);
      expect(await page.getByTestId('signed-in-as').textContent(), path).toBe('Signed in as admin');
    }
    await context.close();

    const open = await fixture.browser.newContext();
    const openPage = await open.newPage();
    await openPage.goto(`${openProducer.url}/admin`);
    await openPage.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    expect(await openPage.getByTestId('auth-disabled').count()).toBe(1);
    expect(await openPage.getByTestId('logout').count()).toBe(0);
    expect(await openPage.getByTestId('link-queues').count()).toBe(1);
    for (const path of ['/admin/requests', '/admin/compare']) {
      await openPage.goto(`${openProducer.url}${path}`);
      await openPage.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
      expect(await openPage.getByTestId('logout').count(), path).toBe(0);
    }
    await open.close();
  });
});

describe('bull-board at /admin/queues', () => {
  it('loads nothing from elsewhere, shows both queues and links back to the console', async () => {
    const { context, page, requests, problems } = await loggedIn({ width: 1280, height: 900 });
    requests.length = 0;
    await page.goto(`${fixture.producer.url}/admin/queues`);
    await page.getByText('workflow-generation-fallback').first().waitFor({ timeout: 15_000 });
    const back = page.getByTestId('back-to-console');
    expect(await back.getAttribute('href')).toBe('/admin');
    expect(await back.isVisible()).toBe(true);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((u) => !u.startsWith(fixture.producer.url))).toEqual([]);
    expect(problems).toEqual([]);
    await back.click();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    expect(new URL(page.url()).pathname).toBe('/admin');
    await context.close();
  });

  it('the page as bull-board renders it names Google Fonts, and what is served does not', () => {
    const upstream = '<head><link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans" rel="stylesheet">\n<link href="static/css/main.css" rel="stylesheet"></head><body class="preload"><div id="root"></div></body>';
    const served = servedQueueBoardPage(upstream);
    expect(served).not.toContain('googleapis');
    expect(served).toContain('<link href="static/css/main.css" rel="stylesheet">');
    expect(served).toContain('<body class="preload"><a href="/admin" data-testid="back-to-console"');
  });
});
