/**
 * Named admins (ADMIN_API_TOKENS="alice:…,bob:…"): bearer calls and browser sessions carry the
 * person's name into the audit rows, "last updated by" and the settings history; removing one
 * admin's token ends that admin's sessions and no one else's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../shared/settings.ts';
import { AUDIT_ACTIONS } from '../shared/outcomes.ts';
import { type ConsoleFixture, signIn, startConsoleFixture } from './helpers/console.ts';
import { call } from './helpers/producer.ts';

const ALICE = 'alice-admin-token-0123456789abcdef';
const BOB = 'bob-admin-token-0123456789abcdef:x';
const ADMINS = `alice:${ALICE},bob:${BOB}`;
const HAIKU = { primaryModel: 'claude-haiku-4-5', fallbackModel: 'claude-sonnet-4-6', enableFallback: true };

let fixture: ConsoleFixture;

beforeAll(async () => {
  // Named admins only: no ADMIN_API_TOKEN.
  fixture = await startConsoleFixture('named-admins', { producerEnv: { ADMIN_API_TOKEN: '', ADMIN_API_TOKENS: ADMINS }, resetSettings: true });
});

afterAll(() => fixture?.close());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function auditRows(action: string) {
  return (await fixture.harness.db.sql`SELECT user_id, details FROM audit_logs WHERE action = ${action} ORDER BY id`) as unknown as { user_id: string; details: Record<string, unknown> }[];
}

async function login(base: string, token: string): Promise<string> {
  const r = await call(base, 'POST', '/admin/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, raw: `token=${encodeURIComponent(token)}` });
  expect(r.status).toBe(303);
  return r.headers.get('set-cookie')!.split(';')[0]!;
}

describe('named admins', () => {
  it('a bearer call carries the admin’s name into the settings, their audit row and the history', async () => {
    const put = await call(fixture.producer.url, 'PUT', '/v1/admin/settings', { headers: bearer(ALICE), json: HAIKU });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toMatchObject({ settings: HAIKU, updatedBy: 'alice' });
    const [row] = (await auditRows(AUDIT_ACTIONS.settingsUpdated)).slice(-1);
    expect(row).toMatchObject({ user_id: 'alice', details: { updated_by: 'alice', new: HAIKU } });
    const history = await call(fixture.producer.url, 'GET', '/v1/admin/settings/history?limit=1', { headers: bearer(BOB) });
    expect(history.body.changes[0].updatedBy).toBe('alice');
  });

  it('catalog changes carry the name too', async () => {
    const models = await call(fixture.producer.url, 'GET', '/v1/admin/models', { headers: bearer(BOB) });
    const haiku = models.body.models.find((m: { id: string }) => m.id === 'claude-haiku-4-5');
    const put = await call(fixture.producer.url, 'PUT', '/v1/admin/models/claude-haiku-4-5', { headers: bearer(BOB), json: { ...haiku, description: 'Changed by Bob.' } });
    expect(put.status, put.text).toBe(200);
    expect(put.body.updated_by).toBe('bob');
    const [row] = (await auditRows(AUDIT_ACTIONS.modelCatalogUpdated)).slice(-1);
    expect(row).toMatchObject({ user_id: 'bob', details: { updated_by: 'bob', model_id: 'claude-haiku-4-5' } });
  });

  it('a session opened with bob’s token is bob’s; removing his token ends his sessions and not alice’s', async () => {
    const bobs = await login(fixture.producer.url, BOB);
    const alices = await login(fixture.producer.url, ALICE);
    const put = await call(fixture.producer.url, 'PUT', '/v1/admin/settings', { headers: { cookie: bobs }, json: DEFAULT_SETTINGS });
    expect(put.body.updatedBy).toBe('bob');
    const without = await fixture.producers.start({ ADMIN_API_TOKEN: '', ADMIN_API_TOKENS: `alice:${ALICE}` });
    expect((await call(without.url, 'GET', '/v1/admin/settings', { headers: { cookie: bobs } })).status).toBe(401);
    expect((await call(without.url, 'GET', '/v1/admin/settings', { headers: { cookie: alices } })).status).toBe(200);
  });

  it('the console says who is signed in, and shows their name after a save and in the history', async () => {
    const { context, page } = await signIn(fixture.browser, fixture.producer.url, { token: ALICE });
    expect(await page.getByTestId('signed-in-as').textContent()).toBe('Signed in as alice');
    await page.getByTestId('primary-model').selectOption('gpt-4.1-mini');
    await page.getByTestId('save-settings').click();
    await expect.poll(() => page.getByTestId('settings-meta').textContent()).toContain('by alice');
    await expect.poll(() => page.getByTestId('history-0').textContent()).toContain('alice');
    await context.close();
  });
});
