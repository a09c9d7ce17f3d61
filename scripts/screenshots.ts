/**
 * Refreshes the console's screenshots in docs/ from a running producer, in Debian's Chromium
 * through playwright-core: the console on a desktop (admin-page.png) and on a phone at 390×844
 * (admin-page-mobile.png), one request's page (request-page.png) and the side-by-side page
 * (compare-page.png). Start the system first (README: running the parts by hand, or npm run
 * demo), then:
 *
 *   CONSOLE_URL=http://127.0.0.1:3000 ADMIN_TOKEN=… node scripts/screenshots.ts
 *
 * Without ADMIN_TOKEN the producer must run with AUTH_DISABLED=true. OUT_DIR (default docs/).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/chromium.ts';

const base = (process.env.CONSOLE_URL ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
const token = process.env.ADMIN_TOKEN;
const outDir = process.env.OUT_DIR ?? fileURLToPath(new URL('../docs/', import.meta.url));
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

async function open(browser: Browser, path: string, viewport: { width: number; height: number }, ready: string): Promise<Page> {
  const context = await browser.newContext({ viewport, locale: 'en-US', timezoneId: 'UTC', deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.warn(`page error on ${path}: ${e.message}`));
  if (token) {
    await page.goto(`${base}/admin/login`);
    await page.getByTestId('login-token').fill(token);
    await page.getByTestId('login-submit').click();
    await page.waitForURL(`${base}/admin`);
  }
  await page.goto(`${base}${path}`);
  await page.waitForSelector(ready, { timeout: 30_000 });
  return page;
}

async function shoot(page: Page, name: string): Promise<void> {
  const path = join(outDir, name);
  await page.screenshot({ path, fullPage: true });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  console.log(`${path} (page ${width} px wide)`);
  await page.context().close();
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

mkdirSync(outDir, { recursive: true });
// The request page shows a request that fell back, when there is one: it has the most to show.
const events = await api<{ items: { requestId: string }[] }>('/v1/admin/fallback-events?limit=1');
const latest = await api<{ items: { id: string }[] }>('/v1/admin/generations?limit=1');
const requestId = events.items[0]?.requestId ?? latest.items[0]?.id;
if (!requestId) throw new Error('no requests yet: run some first (npm run demo, or enqueue a few)');

const browser = await launchChromium();
try {
  const consoleReady = 'body[data-ready="true"][data-stats-ready="true"] [data-testid="spend-card"][data-ready="true"]';
  await shoot(await open(browser, '/admin', DESKTOP, consoleReady), 'admin-page.png');
  await shoot(await open(browser, '/admin', PHONE, consoleReady), 'admin-page-mobile.png');
  await shoot(await open(browser, `/admin/requests/${encodeURIComponent(requestId)}`, DESKTOP, 'body[data-ready="true"]'), 'request-page.png');
  await shoot(await open(browser, '/admin/compare?limit=2', DESKTOP, 'body[data-ready="true"]'), 'compare-page.png');
} finally {
  await browser.close();
}
