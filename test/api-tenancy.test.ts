/**
 * Requests belong to the token that made them, and idempotency keys are claimed atomically:
 * concurrent POSTs with one key, and other tokens reaching for someone else's request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProducer } from '../producer/server.ts';
import { goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { adminAuth, API_TOKEN_2, apiAuth, call, closedPort, openEvents, producerPool } from './helpers/producer.ts';

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let api: RunningProducer;
const otherAuth = { authorization: `Bearer ${API_TOKEN_2}` };

beforeAll(async () => {
  // No worker: jobs stay queued, so the queue shows exactly what was enqueued.
  h = await startHarness('tenancy');
  pool = producerPool(h.env);
  api = await pool.start({ ENQUEUE_RATE_LIMIT_PER_MINUTE: '0' });
});
afterAll(async () => {
  await pool?.closeAll();
  await h?.close();
});

const request = (text: string) => ({ userId: 'user-1', agentId: 'agent-1', userGoal: goal(text), availablePlugins: PLUGINS });
const post = (body: unknown, headers: Record<string, string>) => call(api.url, 'POST', '/v1/generations', { headers, json: body });
const jobsWithKey = async (key: string) =>
  (await h.rawQueue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'])).filter((j) => (j.data as { idempotencyKey?: string }).idempotencyKey === key);

describe('atomic idempotency', () => {
  it('20 concurrent POSTs with one key and different bodies: exactly one 202 and 19 409s', async () => {
    const headers = { ...apiAuth, 'idempotency-key': 'race-different' };
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => post(request(`Different body ${i}`), headers)));
    const accepted = answers.filter((a) => a.status === 202);
    expect(answers.map((a) => a.status).sort()).toEqual([202, ...Array<number>(19).fill(409)]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.error).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', details: { id: accepted[0]!.body.id } });
    const jobs = await jobsWithKey('race-different');
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.id).toBe(accepted[0]!.body.id);
  });

  it('20 concurrent POSTs with one key and the same body: one job, 20 202s, Idempotent-Replayed on all but the first', async () => {
    const headers = { ...apiAuth, 'idempotency-key': 'race-same' };
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(request('The same body'), headers)));
    expect(answers.map((a) => a.status)).toEqual(Array<number>(20).fill(202));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
    expect(await jobsWithKey('race-same')).toHaveLength(1);
  });
  it('releases the claim of a request that could not be enqueued: the retry runs it, it does not replay nothing', async () => {
    const noPostgres = await pool.start({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/test` });
    const headers = { ...apiAuth, 'idempotency-key': 'claim-then-outage' };
    const failed = await call(noPostgres.url, 'POST', '/v1/generations', { headers, json: request('Claimed during an outage') });
    expect(failed.status).toBe(503);
    expect(await jobsWithKey('claim-then-outage')).toHaveLength(0);
    const retried = await post(request('Claimed during an outage'), headers);
    expect(retried.status).toBe(202);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(await jobsWithKey('claim-then-outage')).toHaveLength(1);
  });
});

describe('requests belong to the token that made them', () => {
  it("another token gets 404 for the request and its event stream; the owner and the admin see it", async () => {
    const mine = await post(request('Mine alone'), apiAuth);
    expect(mine.status).toBe(202);
    const id = mine.body.id as string;
    const path = `/v1/generations/${id}`;

    const theirs = await call(api.url, 'GET', path, { headers: otherAuth });
    expect(theirs.status).toBe(404);
    expect(theirs.body).toEqual({ error: { code: 'NOT_FOUND', message: `no generation request with id ${id}` } });
    const stream = await openEvents(`${api.url}${path}/events`, otherAuth);
    expect(stream.status).toBe(404);
    stream.close();

    expect((await call(api.url, 'GET', path, { headers: apiAuth })).status).toBe(200);
    expect((await call(api.url, 'GET', path, { headers: adminAuth })).status).toBe(200);
    const own = await openEvents(`${api.url}${path}/events`, apiAuth);
    expect(own.status).toBe(200);
    own.close();
  });

  it("scopes idempotency by (token, userId, key): another token's same key neither conflicts with nor replays the first", async () => {
    const key = { 'idempotency-key': 'shared-key-1' };
    const a = await post(request('First body'), { ...apiAuth, ...key });
    // The same body and key from another token is a request of its own, not a replay of the first.
    const b = await post(request('First body'), { ...otherAuth, ...key });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body.id).not.toBe(a.body.id);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    // Another body under its key conflicts with its own request only, and names no one else's id.
    const c = await post(request('Another body'), { ...otherAuth, ...key });
    expect(c.status).toBe(409);
    expect(c.body.error.details).toEqual({ id: b.body.id });
    expect(c.text).not.toContain(a.body.id);
    expect(await jobsWithKey('shared-key-1')).toHaveLength(2);
  });
});
