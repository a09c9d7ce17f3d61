/**
 * Settings history and stale saves: GET gives an ETag, PUT with a stale If-Match answers 412
 * naming who changed the settings meanwhile, the history lists SETTINGS_UPDATED rows old → new;
 * and in Chromium, a console that loaded before someone else's save says who changed them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../shared/settings.ts';
import { type ConsoleFixture, signIn, startConsoleFixture } from './helpers/console.ts';
import { ADMIN_IDENTITY, adminAuth, call } from './helpers/producer.ts';

const HAIKU = { primaryModel: 'claude-haiku-4-5', fallbackModel: 'claude-sonnet-4-6', enableFallback: true };
const GPT4O = { primaryModel: 'gpt-4o-mini', fallbackModel: 'gpt-4o', enableFallback: true };

let fixture: ConsoleFixture;

beforeAll(async () => {
  fixture = await startConsoleFixture('settings-history', { resetSettings: true });
});

afterAll(() => fixture?.close());

const put = (json: unknown, headers: Record<string, string> = {}) => call(fixture.producer.url, 'PUT', '/v1/admin/settings', { headers: { ...adminAuth, ...headers }, json });
const get = () => call(fixture.producer.url, 'GET', '/v1/admin/settings', { headers: adminAuth });

describe('If-Match on settings', () => {
  it('a save with the current ETag succeeds; one with a stale ETag is 412 and names who changed them', async () => {
    const read = await get();
    const etag = read.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(read.body.etag).toBe(etag);

    const first = await put(HAIKU, { 'if-match': etag });
    expect(first.status, first.text).toBe(200);
    const newEtag = first.headers.get('etag')!;
    expect(newEtag).not.toBe(etag);

    // Someone else saved since `etag` was read: the stale save is refused and nothing changes.
    await fixture.harness.db.settings.update(GPT4O, 'alice');
    const stale = await put(DEFAULT_SETTINGS, { 'if-match': newEtag });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('PRECONDITION_FAILED');
    expect(stale.body.error.details).toMatchObject({ updatedBy: 'alice' });
    expect(stale.body.error.message).toContain('alice');
    expect((await get()).body.settings).toEqual(GPT4O);
    // Without If-Match the save goes through, as before.
    expect((await put(DEFAULT_SETTINGS)).status).toBe(200);
  });

  it('the history lists SETTINGS_UPDATED rows newest first, old → new, who and when', async () => {
    const res = await call(fixture.producer.url, 'GET', '/v1/admin/settings/history?limit=3', { headers: adminAuth });
    expect(res.status, res.text).toBe(200);
    expect(res.body.changes.map((c: { updatedBy: string }) => c.updatedBy)).toEqual([ADMIN_IDENTITY, 'alice', ADMIN_IDENTITY]);
    expect(res.body.changes[1]).toMatchObject({ old: HAIKU, new: GPT4O });
    expect(Date.parse(res.body.changes[0].at)).toBeGreaterThanOrEqual(Date.parse(res.body.changes[1].at));
  });
});

describe('the console', () => {
  it('says who changed the settings when its save is stale, and shows the history', async () => {
    const { context, page } = await signIn(fixture.browser, fixture.producer.url);
    await expect.poll(() => page.getByTestId('history-0').textContent()).toContain(ADMIN_IDENTITY);

    await fixture.harness.db.settings.update(HAIKU, 'bob');
    await page.getByTestId('primary-model').selectOption('gpt-4.1-mini');
    await page.getByTestId('save-settings').click();
    await expect.poll(() => page.getByTestId('save-status').getAttribute('data-conflict')).toBe('true');
    expect(await page.getByTestId('save-status').textContent()).toContain('bob changed the settings');
    expect((await get()).body.settings).toEqual(HAIKU);
    await expect.poll(() => page.getByTestId('history-0').textContent()).toContain('bob');
    await context.close();
  });
});
