/**
 * Admin sessions live on the server: a random id per login, a TTL in Redis, revoked by logout,
 * and refused once the admin token they were opened with is rotated away.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProducer } from '../producer/server.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { ADMIN_TOKEN, call, producerPool } from './helpers/producer.ts';

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let api: RunningProducer;

beforeAll(async () => {
  h = await startHarness('sessions');
  pool = producerPool(h.env);
  api = await pool.start({ ADMIN_SESSION_TTL_S: '600' });
});
afterAll(async () => {
  await pool?.closeAll();
  await h?.close();
});

async function login(base: string, token = ADMIN_TOKEN): Promise<string> {
  const r = await call(base, 'POST', '/admin/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, raw: `token=${encodeURIComponent(token)}` });
  expect(r.status).toBe(303);
  return r.headers.get('set-cookie')!.split(';')[0]!;
}
const settingsWith = (base: string, cookie: string) => call(base, 'GET', '/v1/admin/settings', { headers: { cookie } });
const sessionKey = (cookie: string) => `${h.prefix}:admin-session:${createHash('sha256').update(cookie.split('=')[1]!).digest('hex')}`;

describe('admin sessions', () => {
  it('gives each login its own random session, kept in Redis with the TTL', async () => {
    const [a, b] = await Promise.all([login(api.url), login(api.url)]);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^wo_admin_session=[A-Za-z0-9_-]{43}$/);
    const ttlMs = await h.redis.pttl(sessionKey(a));
    expect(ttlMs).toBeGreaterThan(590_000);
    expect(ttlMs).toBeLessThanOrEqual(600_000);
    expect((await settingsWith(api.url, a)).status).toBe(200);
    expect((await settingsWith(api.url, b)).status).toBe(200);
  });

  it('revokes the session on logout: a copy of the cookie no longer works, the other session does', async () => {
    const stolen = await login(api.url);
    const other = await login(api.url);
    const out = await call(api.url, 'POST', '/admin/logout', { headers: { cookie: stolen } });
    expect(out.status).toBe(303);
    expect(await h.redis.exists(sessionKey(stolen))).toBe(0);
    expect((await settingsWith(api.url, stolen)).status).toBe(401);
    const page = await call(api.url, 'GET', '/admin', { headers: { cookie: stolen } });
    expect([page.status, page.headers.get('location')]).toEqual([303, '/admin/login']);
    expect((await settingsWith(api.url, other)).status).toBe(200);
  });

  it('refuses every session once the admin token is rotated', async () => {
    const before = await login(api.url);
    const rotatedToken = 'rotated-admin-token-0123456789ab';
    const rotated = await pool.start({ ADMIN_API_TOKEN: rotatedToken });
    expect((await settingsWith(rotated.url, before)).status).toBe(401);
    expect(await h.redis.exists(sessionKey(before))).toBe(0);
    // A session opened with the new token works.
    expect((await settingsWith(rotated.url, await login(rotated.url, rotatedToken))).status).toBe(200);
  });

  it('refuses a forged or malformed session id without asking Redis for anything else', async () => {
    for (const value of ['v1.9999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'A'.repeat(43), '../../etc', '']) {
      expect((await settingsWith(api.url, `wo_admin_session=${value}`)).status, value).toBe(401);
    }
  });
});
