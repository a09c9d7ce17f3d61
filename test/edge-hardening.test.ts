/**
 * The edges a hostile client or an unlucky operator reaches: one id rule everywhere, URLs logged
 * without credentials, a cap on event streams per token, the worker's metrics address, and a
 * login form that backs off per address instead of locking everyone out.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLogs, workflowGenerations } from '../db/schema.ts';
import type { RunningProducer } from '../producer/server.ts';
import { createLogger, redactUrl } from '../shared/logger.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { ADMIN_TOKEN, adminAuth, API_TOKEN_2, apiAuth, call, errorShapeProblems, openEvents, producerPool } from './helpers/producer.ts';

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let api: RunningProducer;
const lines: string[] = [];

beforeAll(async () => {
  h = await startHarness('edges');
  await h.startWorker();
  pool = producerPool(h.env);
  const log = createLogger({ name: 'producer', level: 'info', destination: { write: (line: string) => void lines.push(line) } });
  api = await pool.start({ SSE_MAX_STREAMS_PER_PRINCIPAL: '3', LOGIN_FREE_FAILURES: '2' }, { log });
});
afterAll(async () => {
  await pool?.closeAll();
  await h?.close();
});

const request = (text: string) => ({ userId: 'user-1', agentId: 'agent-1', userGoal: goal(text), availablePlugins: PLUGINS });

describe('one id rule', () => {
  it('answers ids of 101-128 characters like any other, and longer or malformed ones with 400, in the standard shape with the security headers', async () => {
    for (const length of [101, 128]) {
      const r = await call(api.url, 'GET', `/v1/generations/${'a'.repeat(length)}`, { headers: adminAuth });
      expect(r.status, `${length} characters`).toBe(404);
      expect(errorShapeProblems(r.body)).toEqual([]);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
    for (const path of [`/v1/generations/${'a'.repeat(129)}`, `/v1/generations/${'a'.repeat(600)}`, `/v1/generations/${'a'.repeat(600)}/events`, '/v1/generations/has%20space']) {
      const r = await call(api.url, 'GET', path, { headers: adminAuth });
      expect(r.status, path.slice(0, 40)).toBe(400);
      expect(r.body.error.code).toBe('INVALID_REQUEST');
      expect(errorShapeProblems(r.body)).toEqual([]);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('rejects raw jobs whose ids break the rule, with their audit row, and never calls a model', async () => {
    h.sim.resetStats();
    const ids = ['raw id with spaces/😀{x}', 'x'.repeat(600), 'a'.repeat(129)];
    for (const id of ids) await h.rawQueue.add('generate', request('A valid body with a bad id'), { jobId: id });
    for (const id of ids) {
      const row = await eventually(async () => (await h.db.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, id)))[0], { what: `the row of ${id.slice(0, 20)}` });
      expect(row.status).toBe('rejected');
      expect(row.validationErrors).toEqual([expect.objectContaining({ code: 'job_id' })]);
      const audits = await h.db.db.select().from(auditLogs).where(eq(auditLogs.jobId, id));
      expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_REJECTED']);
    }
    expect(h.sim.stats().totalRequests).toBe(0);
    // A valid id of 128 characters goes through.
    const long = 'b'.repeat(128);
    await h.rawQueue.add('generate', request('A valid body with a long id'), { jobId: long });
    const row = await eventually(async () => {
      const [r] = await h.db.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, long));
      return r && r.status !== 'queued' ? r : null;
    });
    expect(row.status).toBe('succeeded');
  });
});

describe('logs', () => {
  it('redacts credential-like query parameters from logged URLs', async () => {
    expect(redactUrl('/v1/generations/x?token=abc&page=2&api_key=k&Session=s&x=1')).toBe('/v1/generations/x?token=[redacted]&page=2&api_key=[redacted]&Session=[redacted]&x=1');
    await call(api.url, 'GET', `/v1/generations/abc/events?access_token=${API_TOKEN_2}&page=2`, { headers: apiAuth });
    await call(api.url, 'GET', `/healthz?token=${ADMIN_TOKEN}`);
    const text = lines.join('');
    expect(text).toContain('/healthz?token=[redacted]');
    expect(text).toContain('access_token=[redacted]&page=2');
    expect(text).not.toContain(API_TOKEN_2);
    expect(text).not.toContain(ADMIN_TOKEN);
  });
});

describe('event streams', () => {
  it('caps the streams one token holds open (here 3): the next gets 429 in the standard shape; another token is not affected; a closed one frees a place', async () => {
    const ids: string[] = [];
    await h.rawQueue.pause();
    try {
      for (let i = 0; i < 4; i++) ids.push((await call(api.url, 'POST', '/v1/generations', { headers: apiAuth, json: request(`Stream ${i}`) })).body.id);
      const open = [];
      for (const id of ids.slice(0, 3)) open.push(await openEvents(`${api.url}/v1/generations/${id}/events`, apiAuth));
      expect(open.map((s) => s.status)).toEqual([200, 200, 200]);
      const refused = await call(api.url, 'GET', `/v1/generations/${ids[3]}/events`, { headers: apiAuth });
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('RATE_LIMITED');
      expect(errorShapeProblems(refused.body)).toEqual([]);
      expect(refused.headers.get('retry-after')).toBe('1');
      // The admin (another principal) still opens one.
      const admins = await openEvents(`${api.url}/v1/generations/${ids[3]}/events`, adminAuth);
      expect(admins.status).toBe(200);
      admins.close();
      open[0]!.close();
      const again = await eventually(async () => {
        const s = await openEvents(`${api.url}/v1/generations/${ids[3]}/events`, apiAuth);
        if (s.status === 200) return s;
        s.close();
        return null;
      });
      again.close();
      for (const s of open.slice(1)) s.close();
    } finally {
      await h.rawQueue.resume();
    }
  });
});

describe('worker metrics address', () => {
  it('binds /metrics to METRICS_HOST', async () => {
    const worker = await h.startWorker({ METRICS_HOST: '127.0.0.2', METRICS_PORT: '0' });
    expect(worker.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/metrics$/);
    const res = await fetch(worker.metricsUrl!);
    expect(res.status).toBe(200);
    const port = new URL(worker.metricsUrl!).port;
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});

describe('login backoff', () => {
  const login = (token: string) => call(api.url, 'POST', '/admin/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, raw: `token=${encodeURIComponent(token)}` });

  it('lets the first failures through, then makes the address wait a growing, short time, never a lockout; the right token logs in after the wait', async () => {
    // LOGIN_FREE_FAILURES=2 here: two free failures, then 1 s, 2 s, ...
    expect((await login('wrong-token-number-one-000')).status).toBe(401);
    expect((await login('wrong-token-number-two-000')).status).toBe(401);
    expect((await login('wrong-token-number-three-0')).status).toBe(401);
    const waiting = await login(ADMIN_TOKEN);
    expect(waiting.status).toBe(429);
    expect(Number(waiting.headers.get('retry-after'))).toBe(1);
    const ok = await eventually(async () => {
      const r = await login(ADMIN_TOKEN);
      return r.status === 303 ? r : null;
    }, { timeoutMs: 5_000, what: 'the backoff to end' });
    expect(ok.headers.get('set-cookie')).toMatch(/^wo_admin_session=/);
    // A success clears the address's record: the next failure is free again.
    expect((await login('wrong-token-number-four-00')).status).toBe(401);
    expect((await login(ADMIN_TOKEN)).status).toBe(303);
  });
});
