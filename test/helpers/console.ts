import { expect } from 'vitest';
/**
 * The admin console's browser tests on real parts: a harness, a producer on its schema and
 * prefix, and Debian's Chromium; and a browser context signed in through the login form, as a
 * person would sign in.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningProducer } from '../../producer/server.ts';
import { DEFAULT_SETTINGS } from '../../shared/settings.ts';
import { launchChromium } from './chromium.ts';
import { type Harness, type HarnessOptions, startHarness } from './harness.ts';
import { ADMIN_TOKEN, producerPool } from './producer.ts';

export type ProducerPool = ReturnType<typeof producerPool>;

export interface ConsoleFixture {
  readonly harness: Harness;
  /** Starts more producers on the same harness (other tokens, auth off); `close` stops them too. */
  readonly producers: ProducerPool;
  readonly producer: RunningProducer;
  readonly browser: Browser;
  /** Closes Chromium, every producer of the pool and the harness, in that order. */
  close(): Promise<void>;
}

export interface ConsoleFixtureOptions {
  readonly harness?: HarnessOptions;
  /** The producer's variables over the pool's defaults (named admin tokens, for one). */
  readonly producerEnv?: Record<string, string>;
  /**
   * Stores the default settings as `db:init` before the producer starts, so a file that reads
   * the settings' history or "last updated by" finds one known row to start from.
   */
  readonly resetSettings?: boolean;
}

export async function startConsoleFixture(label: string, options: ConsoleFixtureOptions = {}): Promise<ConsoleFixture> {
  const harness = await startHarness(label, options.harness);
  const producers = producerPool(harness.env);
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await producers.closeAll();
    await harness.close();
  };
  try {
    if (options.resetSettings) await harness.db.settings.update(DEFAULT_SETTINGS, 'db:init');
    const producer = await producers.start(options.producerEnv);
    browser = await launchChromium();
    return { harness, producers, producer, browser, close };
  } catch (err) {
    // The file's afterAll never receives a fixture that failed to start: stop what did start here.
    await close().catch(() => {});
    throw err;
  }
}

/** What a signed-in page may report that a test can require to stay empty. */
export type PageProblem = 'pageerror' | 'console' | 'requestfailed';

export interface Viewport {
  readonly width: number;
  readonly height: number;
}

export const DESKTOP: Viewport = { width: 1280, height: 900 };

export interface SignInOptions {
  /** The console page to end on (default `/admin`); a browser without a session asks it first, so it must be sent to the login form. */
  readonly path?: string;
  /** Default: ADMIN_TOKEN, the one unnamed admin. */
  readonly token?: string;
  /** Default: DESKTOP. */
  readonly viewport?: Viewport;
  /** What says `path` has loaded what the test reads (default `body[data-ready="true"]`). */
  readonly readyWhen?: string;
  /** Which problems the page records (default: uncaught page errors only). */
  readonly problemsFrom?: readonly PageProblem[];
}

export interface SignedInPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Page errors, console errors and failed requests, as `problemsFrom` chose, in arrival order. */
  readonly problems: string[];
  /** Every URL the page requested, from before the login form on. */
  readonly requests: string[];
}

/** The console's own page with its live figures drawn, for tests that read them. */
export const STATS_READY = 'body[data-ready="true"][data-stats-ready="true"]';

const LOGIN_PATH = '/admin/login';
const PAGE_READY = 'body[data-ready="true"]';
const READY_TIMEOUT_MS = 15_000;

/**
 * A fresh context (en-US, UTC, so dates and money read the same on every machine) signed in
 * through the login form, on `path` once it is ready.
 */
export async function signIn(browser: Browser, baseUrl: string, options: SignInOptions = {}): Promise<SignedInPage> {
  const path = options.path ?? '/admin';
  const problemsFrom = new Set(options.problemsFrom ?? ['pageerror']);
  const context = await browser.newContext({ viewport: options.viewport ?? DESKTOP, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  if (problemsFrom.has('pageerror')) page.on('pageerror', (e) => problems.push(e.message));
  if (problemsFrom.has('requestfailed')) page.on('requestfailed', (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
  if (problemsFrom.has('console')) {
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
  }
  await page.goto(`${baseUrl}${path}`);
  if (new URL(page.url()).pathname !== LOGIN_PATH) throw new Error(`${path} without a session should send the browser to ${LOGIN_PATH}; it is at ${page.url()}`);
  await page.getByTestId('login-token').fill(options.token ?? ADMIN_TOKEN);
  await page.getByTestId('login-submit').click();
  await page.waitForSelector(PAGE_READY, { timeout: READY_TIMEOUT_MS });
  // The form lands on the console itself; any other page is asked for again with the session.
  if (new URL(page.url()).pathname !== new URL(path, baseUrl).pathname) await page.goto(`${baseUrl}${path}`);
  await page.waitForSelector(options.readyWhen ?? PAGE_READY, { timeout: READY_TIMEOUT_MS });
  return { context, page, problems, requests };
}

const pageProblems = new WeakMap<Page, string[]>();

/** `signIn`'s page alone, for tests that close it with `closeCheckedPage`. */
export async function openCheckedPage(browser: Browser, baseUrl: string, options: SignInOptions = {}): Promise<Page> {
  const { page, problems } = await signIn(browser, baseUrl, options);
  pageProblems.set(page, problems);
  return page;
}

/** Closes a page from `openCheckedPage`, and fails if it threw anything uncaught meanwhile. */
export async function closeCheckedPage(page: Page): Promise<void> {
  const problems = pageProblems.get(page) ?? [];
  await page.context().close();
  expect(problems, 'uncaught errors in the page').toEqual([]);
}
