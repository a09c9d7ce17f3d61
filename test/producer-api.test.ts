/**
 * The producer's HTTP API over real HTTP, against real Redis and Postgres and a real worker
 * (simulated model provider): every route, every error shape, idempotency, access control,
 * rate limiting shared by two replicas, event streams, readiness with a dependency down.
 */
import { and, eq } from 'drizzle-orm';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLogs, systemSettingsConfig } from '../db/schema.ts';
import type { RunningProducer } from '../producer/server.ts';
import { enqueueResponseSchema, generationStatusSchema, settingsResponseSchema } from '../producer/schemas.ts';
import { MODEL_CATALOG } from '../shared/default-catalog.ts';
import { REDACT_PATHS } from '../shared/logger.ts';
import { PRIMARY_QUEUE } from '../shared/jobs.ts';
import type { WorkerRuntime } from '../worker/runtime.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import {
  ADMIN_IDENTITY,
  ADMIN_TOKEN,
  adminAuth,
  API_TOKEN,
  API_TOKEN_2,
  apiAuth,
  call,
  closedPort,
  errorShapeProblems,
  openEvents,
  producerPool,
  schemaChecker,
} from './helpers/producer.ts';

let h: Harness;
let worker: WorkerRuntime;
let pool: ReturnType<typeof producerPool>;
let api: RunningProducer;
const check = schemaChecker();

beforeAll(async () => {
  h = await startHarness('producer-api');
  worker = await h.startWorker();
  pool = producerPool(h.env);
  api = await pool.start({}, { processMetrics: true });
});
afterAll(async () => {
  await pool?.closeAll();
  if (h) {
    // Producers started on prefixes of their own (`<prefix>_idle`, ...) leave BullMQ's queue metadata.
    const left = await h.redis.keys(`${h.prefix}_*`);
    if (left.length > 0) await h.redis.del(...left);
  }
  await h?.close();
});

const request = (text: string, ...directives: string[]) => ({ userId: 'user-1', agentId: 'agent-1', userGoal: goal(text, ...directives), availablePlugins: PLUGINS });
const post = (body: unknown, headers: Record<string, string> = apiAuth, base = api.url) => call(base, 'POST', '/v1/generations', { headers, json: body });
const get = (path: string, headers: Record<string, string> = apiAuth, base = api.url) => call(base, 'GET', path, { headers });

/** Polls the status route until the request is finished. */
async function finished(id: string, base = api.url, headers = apiAuth) {
  return eventually(
    async () => {
      const r = await get(`/v1/generations/${id}`, headers, base);
      return r.body.stage === 'finished' ? r : undefined;
    },
    { timeoutMs: 20_000, what: `request ${id} to finish` },
  );
}

function expectError(r: { status: number; body: any }, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(errorShapeProblems(r.body)).toEqual([]);
  expect(r.body.error.code).toBe(code);
  expect(typeof r.body.error.message).toBe('string');
}

describe('access control', () => {
  it('refuses API routes without a token (401, www-authenticate) and with an unknown or malformed one', async () => {
    const none = await post(request('x'), {});
    expectError(none, 401, 'UNAUTHORIZED');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expectError(await post(request('x'), { authorization: 'Bearer not-a-configured-token-000' }), 401, 'UNAUTHORIZED');
    expectError(await post(request('x'), { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), 401, 'UNAUTHORIZED');
    expectError(await get('/v1/generations/some-id', {}), 401, 'UNAUTHORIZED');
    expectError(await get('/v1/generations/some-id/events', {}), 401, 'UNAUTHORIZED');
  });

  it('keeps the roles apart: the admin token on API routes and an API token on admin routes get 403', async () => {
    expectError(await post(request('x'), adminAuth), 403, 'FORBIDDEN');
    // The admin reads every request (404 here: there is none), but enqueues nothing.
    expectError(await get('/v1/generations/some-id', adminAuth), 404, 'NOT_FOUND');
    expectError(await get('/v1/admin/settings', apiAuth), 403, 'FORBIDDEN');
    expectError(await call(api.url, 'PUT', '/v1/admin/settings', { headers: apiAuth, json: { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true } }), 403, 'FORBIDDEN');
    expectError(await get('/v1/admin/stats', {}), 401, 'UNAUTHORIZED');
    expectError(await get('/admin/queues/api/queues', apiAuth), 403, 'FORBIDDEN');
    // Every configured API token works.
    expect((await get('/v1/generations/unknown-id', { authorization: `Bearer ${API_TOKEN_2}` })).status).toBe(404);
  });

  it('leaves health, readiness, metrics and docs open', async () => {
    expect((await get('/healthz', {})).status).toBe(200);
    expect((await get('/readyz', {})).status).toBe(200);
    expect((await get('/metrics', {})).status).toBe(200);
    expect((await get('/docs/json', {})).status).toBe(200);
  });

  it('refuses to start without tokens unless AUTH_DISABLED=true, and with the admin token among the API tokens', async () => {
    await expect(pool.start({ PRODUCER_API_TOKENS: '', ADMIN_API_TOKEN: '' })).rejects.toThrow(/PRODUCER_API_TOKENS/);
    await expect(pool.start({ ADMIN_API_TOKEN: '' })).rejects.toThrow(/ADMIN_API_TOKEN/);
    await expect(pool.start({ ADMIN_API_TOKEN: API_TOKEN })).rejects.toThrow(/must differ/);
    const open = await pool.start({ PRODUCER_API_TOKENS: '', ADMIN_API_TOKEN: '', AUTH_DISABLED: 'true' });
    expect((await get('/v1/generations/unknown-id', {}, open.url)).status).toBe(404);
    expect((await get('/v1/admin/settings', {}, open.url)).status).toBe(200);
    await open.close();
  });
});

describe('POST /v1/generations', () => {
  it('answers 202 with the id and status, a location, rate-limit headers; the job is on the queue', async () => {
    const r = await post(request('Summarise unread email to Slack every morning'));
    expect(r.status).toBe(202);
    expect(check(enqueueResponseSchema, r.body)).toEqual([]);
    expect(r.body.status).toBe('queued');
    expect(r.headers.get('location')).toBe(`/v1/generations/${r.body.id}`);
    expect(r.headers.get('x-ratelimit-limit')).toBe('600');
    expect(await h.rawQueue.getJob(r.body.id)).toBeDefined();
    const done = await finished(r.body.id);
    expect(done.body.status).toBe('succeeded');
  });

  it('refuses a body that breaks the contract with 400 and field-level details, enqueuing nothing', async () => {
    const before = await h.rawQueue.count();
    const r = await post({ userId: 'u', agentId: '', userGoal: 'x', availablePlugins: [], extra: 1 });
    expectError(r, 400, 'INVALID_REQUEST');
    const paths = [...new Set((r.body.error.details as { path: string }[]).map((d) => d.path))].sort();
    expect(paths).toEqual(['/agentId', '/availablePlugins', '/extra']);
    for (const d of r.body.error.details) expect(Object.keys(d).sort()).toEqual(['code', 'message', 'path']);
    expectError(await post([1, 2]), 400, 'INVALID_REQUEST');
    expect(await h.rawQueue.count()).toBe(before);
  });

  it('answers malformed JSON and an empty JSON body with 400 MALFORMED_JSON', async () => {
    expectError(await call(api.url, 'POST', '/v1/generations', { headers: { ...apiAuth, 'content-type': 'application/json' }, raw: '{"userId": "u",' }), 400, 'MALFORMED_JSON');
    expectError(await call(api.url, 'POST', '/v1/generations', { headers: { ...apiAuth, 'content-type': 'application/json' }, raw: '' }), 400, 'MALFORMED_JSON');
  });

  it('answers bodies over 64 KiB with 413', async () => {
    const big = { ...request('x'), userGoal: 'y'.repeat(70 * 1024) };
    expectError(await post(big), 413, 'PAYLOAD_TOO_LARGE');
    // Just under the limit is parsed (and refused by the contract, whose goal is 4000 characters at most).
    const under = { ...request('x'), userGoal: 'y'.repeat(60 * 1024) };
    expectError(await post(under), 400, 'INVALID_REQUEST');
  });

  it('answers other content types with 415', async () => {
    expectError(await call(api.url, 'POST', '/v1/generations', { headers: { ...apiAuth, 'content-type': 'text/plain' }, raw: JSON.stringify(request('x')) }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await call(api.url, 'POST', '/v1/generations', { headers: { ...apiAuth, 'content-type': 'application/x-www-form-urlencoded' }, raw: 'userId=u' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await call(api.url, 'PUT', '/v1/admin/settings', { headers: { ...adminAuth, 'content-type': 'text/xml' }, raw: '<x/>' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('honours the Idempotency-Key header: the same id, nothing new enqueued, the replay marked', async () => {
    const body = request('Archive newsletters weekly');
    const headers = { ...apiAuth, 'idempotency-key': 'order-42' };
    const a = await post(body, headers);
    const b = await post(body, headers);
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.body.id).toBe(a.body.id);
    expect(a.headers.get('idempotent-replayed')).toBeNull();
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    const jobs = (await h.rawQueue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'])).filter((j) => (j.data as { idempotencyKey?: string }).idempotencyKey === 'order-42');
    expect(jobs).toHaveLength(1);
    // A repeat after the end still answers with the first id and its final status.
    await finished(a.body.id);
    const c = await post(body, headers);
    expect(c.body).toEqual({ id: a.body.id, status: 'succeeded' });
  });

  it('honours idempotencyKey in the body the same way, and refuses a key reused for another request (409) or a header that disagrees (400)', async () => {
    const body = { ...request('Forward invoices'), idempotencyKey: 'body-key-1' };
    const a = await post(body);
    const b = await post(body);
    expect(b.body.id).toBe(a.body.id);
    // The header and the body key name the same request.
    const c = await post(request('Forward invoices'), { ...apiAuth, 'idempotency-key': 'body-key-1' });
    expect(c.body.id).toBe(a.body.id);
    const conflict = await post({ ...body, userGoal: 'Something else entirely' });
    expectError(conflict, 409, 'IDEMPOTENCY_CONFLICT');
    expect(conflict.body.error.details).toEqual({ id: a.body.id });
    const mismatch = await post(body, { ...apiAuth, 'idempotency-key': 'another-key' });
    expectError(mismatch, 400, 'INVALID_REQUEST');
    expect(mismatch.body.error.details[0].path).toBe('/idempotencyKey');
    expectError(await post(request('x'), { ...apiAuth, 'idempotency-key': 'k'.repeat(300) }), 400, 'INVALID_REQUEST');
  });
});

describe('GET /v1/generations/:id', () => {
  it('reports queued while no worker has the job (a prefix without workers)', async () => {
    const idle = await pool.start({ QUEUE_PREFIX: `${h.prefix}_idle` });
    const queue = new Queue(PRIMARY_QUEUE, { connection: { url: h.env.REDIS_URL }, prefix: `${h.prefix}_idle` });
    try {
      const r = await post(request('Nobody picks this up'), apiAuth, idle.url);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const s = await get(`/v1/generations/${r.body.id}`, apiAuth, idle.url);
      expect(s.status).toBe(200);
      expect(check(generationStatusSchema, s.body)).toEqual([]);
      expect(s.body).toMatchObject({ id: r.body.id, status: 'queued', stage: 'queued', queue: 'primary', result: null });
      expect(Date.parse(s.body.timings.enqueuedAt)).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('returns the result of a request the primary answered: workflow, generator, tokens, cost, timings', async () => {
    const { body } = await post(request('Every Friday post a sales summary from the sheet to Slack'));
    const r = await finished(body.id);
    expect(check(generationStatusSchema, r.body)).toEqual([]);
    expect(r.body).toMatchObject({ id: body.id, status: 'succeeded', stage: 'finished', queue: null, fallbackReason: null, error: null });
    const result = r.body.result;
    expect(result).toMatchObject({ job_id: body.id, status: 'succeeded', generator_used: 'gpt-4o-mini', primary_model: 'gpt-4o-mini', fallback_reason: null, validation_passed: true, attempts: 1 });
    expect(result.workflow.pilot_steps.length).toBeGreaterThan(0);
    expect(result.tokens.total).toBeGreaterThan(0);
    expect(result.cost_usd).toBeGreaterThan(0);
    expect(result.cost_usd_exact).toMatch(/^0\.\d{12}$/);
    const t = r.body.timings;
    expect(Date.parse(t.enqueuedAt)).toBeLessThanOrEqual(Date.parse(t.startedAt));
    expect(Date.parse(t.startedAt)).toBeLessThanOrEqual(Date.parse(t.finishedAt));
    expect(t.generationTimeMs).toBe(result.generation_time_ms);
  });

  it('returns a fallen-back request with the fallback model as generator and the reason', async () => {
    const { body } = await post(request('Copy new rows to Slack', 'gpt-4o-mini=schema'));
    const r = await finished(body.id);
    expect(check(generationStatusSchema, r.body)).toEqual([]);
    expect(r.body).toMatchObject({ status: 'succeeded', fallbackReason: 'schema', fallbackJobId: `${body.id}-fallback` });
    expect(r.body.result).toMatchObject({ generator_used: 'claude-sonnet-4-6', fallback_reason: 'schema', attempts: 2 });
  });

  it('returns invalid with the validation errors, failed with the failure reason, rejected for a job that broke the contract', async () => {
    const invalid = await post(request('Post standup notes', 'gpt-4o-mini=schema', 'claude-sonnet-4-6=semantic'));
    const failed = await post(request('Sync contacts', 'gpt-4o-mini=schema', 'claude-sonnet-4-6=auth'));
    // Only a raw BullMQ client can put a contract-breaking job on the queue.
    await h.rawQueue.add('generate', { userId: 'u', nonsense: true }, { jobId: 'raw-bad-job-1' });

    const i = await finished(invalid.body.id);
    expect(check(generationStatusSchema, i.body)).toEqual([]);
    expect(i.body, JSON.stringify(i.body)).toMatchObject({ status: 'invalid', result: { status: 'invalid', validation_passed: false, generator_used: 'claude-sonnet-4-6' } });
    expect(i.body.result.validation_errors.length).toBeGreaterThan(0);

    const f = await finished(failed.body.id);
    expect(check(generationStatusSchema, f.body)).toEqual([]);
    expect(f.body, JSON.stringify(f.body)).toMatchObject({ status: 'failed', result: { status: 'failed', generator_used: null } });
    expect(f.body.result.failure_reason).toMatch(/^auth_error/);

    // No API token made it: only the admin sees it.
    expectError(await get('/v1/generations/raw-bad-job-1'), 404, 'NOT_FOUND');
    const rj = await finished('raw-bad-job-1', api.url, adminAuth);
    expect(check(generationStatusSchema, rj.body)).toEqual([]);
    expect(rj.body).toMatchObject({ status: 'rejected', result: { status: 'rejected', attempts: 0, cost_usd: 0 } });
    expect(rj.body.result.validation_errors.map((e: { path: string }) => e.path)).toContain('/nonsense');
  });

  it('answers 404 for an unknown id and 400 for an id that cannot exist', async () => {
    expectError(await get('/v1/generations/no-such-request'), 404, 'NOT_FOUND');
    expectError(await get('/v1/generations/bad%20id'), 400, 'INVALID_REQUEST');
  });
});

describe('GET /v1/generations/:id/events', () => {
  it('streams the stages of a request that falls back, in order, and ends after finished', async () => {
    await h.rawQueue.pause();
    let stream;
    try {
      const { body } = await post(request('Triage support email into the sheet', 'gpt-4o-mini=schema'));
      stream = await openEvents(`${api.url}/v1/generations/${body.id}/events`, apiAuth);
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(stream.headers.get('cache-control')).toMatch(/no-cache/);
      // The current state comes first: the job is waiting in the paused queue.
      await stream.waitFor((e) => e.event === 'queued', 5_000, 'queued');
      expect(stream.events.map((e) => e.event)).toEqual(['queued']);
    } finally {
      await h.rawQueue.resume();
    }
    const done = await stream.waitFor((e) => e.event === 'finished', 20_000, 'finished');
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(['queued', 'primary_started', 'validating', 'fallback_enqueued', 'fallback_started', 'validating', 'finished']);
    expect(stream.events.map((e) => Number(e.id))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(stream.events[2]!.data).toMatchObject({ stage: 'validating', role: 'primary', model: 'gpt-4o-mini' });
    expect(stream.events[3]!.data).toMatchObject({ stage: 'fallback_enqueued', reason: 'schema', fallbackJobId: `${done.data.id}-fallback` });
    expect(stream.events[4]!.data).toMatchObject({ stage: 'fallback_started', model: 'claude-sonnet-4-6' });
    expect(stream.events[5]!.data).toMatchObject({ stage: 'validating', role: 'fallback', model: 'claude-sonnet-4-6' });
    expect(done.data).toMatchObject({ stage: 'finished', status: 'succeeded', result: { generator_used: 'claude-sonnet-4-6', fallback_reason: 'schema' } });
  });

  it('gives a late subscriber the stages already passed and the result, then ends; Last-Event-ID skips what was seen', async () => {
    const { body } = await post(request('Label new tickets'));
    await finished(body.id);
    const late = await openEvents(`${api.url}/v1/generations/${body.id}/events`, apiAuth);
    await late.ended;
    expect(late.events.map((e) => e.event)).toEqual(['queued', 'primary_started', 'validating', 'finished']);
    expect(late.events.at(-1)!.data).toMatchObject({ status: 'succeeded', result: { job_id: body.id } });
    const resumed = await openEvents(`${api.url}/v1/generations/${body.id}/events`, { ...apiAuth, 'last-event-id': '2' });
    await resumed.ended;
    expect(resumed.events.map((e) => e.event)).toEqual(['finished']);
  });

  it('sends heartbeat comments while nothing happens, and one QueueEvents pair serves every stream', async () => {
    const idle = await pool.start({ QUEUE_PREFIX: `${h.prefix}_hb`, SSE_HEARTBEAT_MS: '150' });
    const queue = new Queue(PRIMARY_QUEUE, { connection: { url: h.env.REDIS_URL }, prefix: `${h.prefix}_hb` });
    try {
      const { status, body } = await post(request('Waits forever'), apiAuth, idle.url);
      expect(status).toBe(202);
      const clients = await Promise.all([1, 2, 3].map(() => openEvents(`${idle.url}/v1/generations/${body.id}/events`, apiAuth)));
      for (const c of clients) await c.waitForComment((t) => t === 'heartbeat');
      // Three streams, still two event readers: the hub's named blocking connections.
      const redisClients = (await h.redis.client('LIST')) as string;
      expect(redisClients.split('\n').filter((l) => l.includes(` name=${h.prefix}_hb:producer-events `))).toHaveLength(2);
      for (const c of clients) c.close();
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('answers 404 for an unknown id before any stream starts', async () => {
    expectError(await get('/v1/generations/nobody-knows/events'), 404, 'NOT_FOUND');
  });
});

describe('rate limiting', () => {
  it('limits enqueues per token across two producer replicas through Redis: 429 with retry-after', async () => {
    const prefix = `${h.prefix}_rl`;
    const env = { QUEUE_PREFIX: prefix, ENQUEUE_RATE_LIMIT_PER_MINUTE: '3' };
    const [a, b] = await Promise.all([pool.start(env), pool.start(env)]);
    const queue = new Queue(PRIMARY_QUEUE, { connection: { url: h.env.REDIS_URL }, prefix });
    try {
      expect((await post(request('1'), apiAuth, a.url)).status).toBe(202);
      expect((await post(request('2'), apiAuth, b.url)).status).toBe(202);
      const third = await post(request('3'), apiAuth, a.url);
      expect(third.status).toBe(202);
      expect(third.headers.get('x-ratelimit-remaining')).toBe('0');
      const over = await post(request('4'), apiAuth, b.url);
      expectError(over, 429, 'RATE_LIMITED');
      const retryAfter = Number(over.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(over.body.error.details).toMatchObject({ limit: 3, retryAfterSeconds: retryAfter });
      expectError(await post(request('5'), apiAuth, a.url), 429, 'RATE_LIMITED');
      // Another token has a budget of its own; reads are not limited.
      expect((await post(request('6'), { authorization: `Bearer ${API_TOKEN_2}` }, a.url)).status).toBe(202);
      expect((await get('/v1/generations/unknown-id', apiAuth, b.url)).status).toBe(404);
      expect(await queue.count()).toBe(4);
      // The key holds a hash of the token, never the token.
      const keys = await h.redis.keys(`${prefix}:ratelimit:*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const k of keys) expect(k).not.toContain(API_TOKEN);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      await h.redis.del(...(await h.redis.keys(`${prefix}:ratelimit:*`)));
    }
  });
});

describe('readiness and dependencies', () => {
  it('with Redis unreachable: live, not ready (503 naming redis), enqueue and reads answer 503 quickly', async () => {
    const port = await closedPort();
    const down = await pool.start({ REDIS_URL: `redis://127.0.0.1:${port}` });
    const ready = await get('/readyz', {}, down.url);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', down: ['redis'], checks: { redis: { ok: false }, postgres: { ok: true } } });
    expect((await get('/healthz', {}, down.url)).status).toBe(200);
    const started = Date.now();
    const r = await post(request('x'), apiAuth, down.url);
    expect(Date.now() - started).toBeLessThan(1_000);
    expectError(r, 503, 'SERVICE_UNAVAILABLE');
    expect(r.body.error.details).toEqual({ dependency: 'redis' });
    expect(r.body.error.message).toMatch(/Redis/);
    expectError(await get('/v1/generations/some-id', adminAuth, down.url), 503, 'SERVICE_UNAVAILABLE');
    expectError(await get('/v1/generations/some-id/events', adminAuth, down.url), 503, 'SERVICE_UNAVAILABLE');
    // Admin pages that need only Postgres keep working.
    expect((await get('/v1/admin/settings', adminAuth, down.url)).status).toBe(200);
    await down.close();
  });

  it('with Postgres unreachable: not ready (503 naming postgres)', async () => {
    const port = await closedPort();
    const down = await pool.start({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test` });
    const ready = await get('/readyz', {}, down.url);
    expect(ready.status).toBe(503);
    expect(ready.body.down).toEqual(['postgres']);
    expectError(await get('/v1/admin/settings', adminAuth, down.url), 503, 'SERVICE_UNAVAILABLE');
    await down.close();
  });
});

describe('admin settings API', () => {
  it('reads the stored settings', async () => {
    const r = await get('/v1/admin/settings', adminAuth);
    expect(r.status).toBe(200);
    expect(check(settingsResponseSchema, r.body)).toEqual([]);
    expect(r.body).toMatchObject({ settings: { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true }, valid: true, problem: null });
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it('changes all three at once with an audit row naming who, live in a running worker within 2 s', async () => {
    const next = { primaryModel: 'gpt-4.1-mini', fallbackModel: 'claude-haiku-4-5', enableFallback: false };
    try {
      const r = await call(api.url, 'PUT', '/v1/admin/settings', { headers: adminAuth, json: next });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(check(settingsResponseSchema, r.body)).toEqual([]);
      expect(r.body).toMatchObject({ settings: next, valid: true, updatedBy: ADMIN_IDENTITY });
      const saved = Date.now();
      await eventually(async () => {
        const s = worker.settings.current();
        return s.primaryModel === next.primaryModel && s.fallbackModel === next.fallbackModel && s.enableFallback === next.enableFallback;
      }, { timeoutMs: 2_000, what: 'the worker to apply the settings' });
      expect(Date.now() - saved).toBeLessThan(2_000);

      const rows = await h.db.db.select().from(systemSettingsConfig).where(eq(systemSettingsConfig.category, 'orchestrator'));
      expect(Object.fromEntries(rows.map((x) => [x.key, x.value]))).toEqual({
        orchestrator_primary_model: 'gpt-4.1-mini',
        orchestrator_fallback_model: 'claude-haiku-4-5',
        orchestrator_enable_fallback: false,
        // The ladder's keys: a write of the seed's three keeps the chain's head in step.
        orchestrator_fallback_chain: ['claude-haiku-4-5'],
        orchestrator_repair_attempts: 0,
        orchestrator_max_cost_per_request_usd: '',
      });
      for (const row of rows) expect(row.updatedBy).toBe(ADMIN_IDENTITY);
      const [audit] = await h.db.db.select().from(auditLogs).where(and(eq(auditLogs.action, 'SETTINGS_UPDATED'), eq(auditLogs.userId, ADMIN_IDENTITY)));
      expect(audit!.details).toEqual({
        updated_by: ADMIN_IDENTITY,
        old: { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true, fallbackChain: ['claude-sonnet-4-6'], repairAttempts: 0, maxCostPerRequestUsd: null },
        new: { ...next, fallbackChain: ['claude-haiku-4-5'], repairAttempts: 0, maxCostPerRequestUsd: null },
      });
      expect(JSON.stringify(audit)).not.toContain(ADMIN_TOKEN);
    } finally {
      await call(api.url, 'PUT', '/v1/admin/settings', { headers: adminAuth, json: { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true } });
      await eventually(async () => worker.settings.current().enableFallback, { what: 'settings restored' });
    }
  });

  it('refuses invalid settings with 400 and field details, writing nothing', async () => {
    const put = (json: unknown) => call(api.url, 'PUT', '/v1/admin/settings', { headers: adminAuth, json });
    const unknown = await put({ primaryModel: 'gpt-9', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
    expectError(unknown, 400, 'INVALID_SETTINGS');
    expect(unknown.body.error.details).toEqual([{ path: '/primaryModel', code: 'unknown_model', message: '"gpt-9" is not a model in the catalog' }]);
    const same = await put({ primaryModel: 'gpt-4o-mini', fallbackModel: 'gpt-4o-mini', enableFallback: true });
    expectError(same, 400, 'INVALID_SETTINGS');
    expect(same.body.error.details[0]).toMatchObject({ path: '/fallbackModel', code: 'same_as_primary' });
    const missing = await put({ primaryModel: 'gpt-4o-mini', enableFallback: 'yes' });
    expectError(missing, 400, 'INVALID_REQUEST');
    expect(missing.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['/enableFallback', '/fallbackModel']);
    // Same model is fine while fallback is off.
    const off = await put({ primaryModel: 'gpt-4o-mini', fallbackModel: 'gpt-4o-mini', enableFallback: false });
    expect(off.status).toBe(200);
    await put({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
    const r = await get('/v1/admin/settings', adminAuth);
    expect(r.body.settings).toEqual({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
  });

  it('lists the catalog with each model’s cost per workflow on a stated basis', async () => {
    const r = await get('/v1/admin/catalog', adminAuth);
    expect(r.status).toBe(200);
    expect(r.body.models.map((m: { id: string }) => m.id).sort()).toEqual(MODEL_CATALOG.map((m) => m.id).sort());
    expect(['typical', 'measured']).toContain(r.body.basis);
    for (const m of r.body.models) {
      expect(m.costPerWorkflowUsd).toBeGreaterThan(0);
      expect(Number(m.costPerWorkflowExact)).toBeCloseTo(m.costPerWorkflowUsd, 12);
    }
    expectError(await get('/v1/admin/stats?days=9', adminAuth), 400, 'INVALID_REQUEST');
    const stats = await get('/v1/admin/stats?days=30', adminAuth);
    expect(stats.status).toBe(200);
    expect(stats.body.windowDays).toBe(30);
  });
});

describe('operations', () => {
  it('exports metrics by route template (never the raw URL), enqueue latency, queue depth and process metrics', async () => {
    await get('/v1/generations/an-id-that-must-not-be-a-label');
    await get('/no/such/route/at-all');
    await post(request('For the metrics'));
    const r = await get('/metrics', {});
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = r.text;
    expect(text).toMatch(/orchestrator_http_requests_total\{route="\/v1\/generations\/:id",method="GET",status="404"\} \d+/);
    expect(text).toMatch(/orchestrator_http_requests_total\{route="unmatched",method="GET",status="404"\} \d+/);
    expect(text).toMatch(/orchestrator_http_requests_total\{route="\/v1\/generations",method="POST",status="202"\} \d+/);
    expect(text).toMatch(/orchestrator_http_request_duration_seconds_bucket\{le="[^"]+",route="\/v1\/generations\/:id",method="GET"\}/);
    expect(text).toMatch(/orchestrator_enqueue_duration_seconds_count\{outcome="ok"\} [1-9]/);
    expect(text).toMatch(/orchestrator_queue_jobs\{queue="workflow-generation",state="waiting"\} \d+/);
    expect(text).toMatch(/orchestrator_queue_jobs\{queue="workflow-generation-fallback",state="failed"\} \d+/);
    expect(text).toMatch(/process_cpu_user_seconds_total/);
    expect(text).not.toContain('an-id-that-must-not-be-a-label');
    expect(text).not.toContain('/no/such/route');
  });

  it('answers unknown routes and methods with 404 in the error shape', async () => {
    expectError(await get('/v2/nothing'), 404, 'NOT_FOUND');
    expectError(await call(api.url, 'DELETE', '/v1/generations/x', { headers: apiAuth }), 404, 'NOT_FOUND');
  });

  it('serves the OpenAPI document at /docs/json with every route, and Swagger UI with local assets at /docs', async () => {
    const doc = await get('/docs/json', {});
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/generations', '/v1/generations/{id}', '/v1/generations/{id}/events', '/v1/admin/settings', '/v1/admin/catalog', '/v1/admin/stats', '/healthz', '/readyz', '/metrics']),
    );
    expect(doc.body.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const body = doc.body.paths['/v1/generations'].post.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['userId', 'agentId', 'userGoal', 'availablePlugins']);
    expect(doc.body.components.schemas).toHaveProperty('Workflow');
    expect(doc.body.components.schemas).toHaveProperty('GenerationResult');
    const page = await call(api.url, 'GET', '/docs/', { redirect: 'follow' });
    expect(page.status).toBe(200);
    expect(page.text).toContain('swagger');
    const css = await call(api.url, 'GET', '/docs/static/swagger-ui.css');
    expect(css.status).toBe(200);
  });

  it('serves bull-board at /admin/queues behind the admin credentials, for both queues', async () => {
    expectError(await get('/admin/queues/api/queues', {}), 401, 'UNAUTHORIZED');
    const browser = await call(api.url, 'GET', '/admin/queues', { headers: { accept: 'text/html' } });
    expect(browser.status).toBe(303);
    expect(browser.headers.get('location')).toBe('/admin/login');
    const page = await call(api.url, 'GET', '/admin/queues', { headers: adminAuth });
    expect(page.status).toBe(200);
    expect(page.text).toContain('Workflow queues');
    const queues = await get('/admin/queues/api/queues', adminAuth);
    expect(queues.body.queues.map((q: { name: string }) => q.name).sort()).toEqual(['workflow-generation', 'workflow-generation-fallback']);
  });

  it('serves the admin pages: login form (a wrong token is a 401 page), session cookie, assets, logout', async () => {
    const form = await call(api.url, 'GET', '/admin/login');
    expect(form.status).toBe(200);
    expect(form.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(form.headers.get('x-frame-options')).toBe('DENY');
    const wrong = await call(api.url, 'POST', '/admin/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, raw: 'token=wrong-token-000000000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('data-testid="login-error"');
    expect(wrong.headers.get('set-cookie')).toBeNull();
    // The API token is no admin token either.
    expect((await call(api.url, 'POST', '/admin/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, raw: `token=${API_TOKEN}` })).status).toBe(401);
    const ok = await call(api.url, 'POST', '/admin/login', { headers: { 'content-type': 'application/json' }, json: { token: ADMIN_TOKEN } });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/admin');
    const setCookie = ok.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^wo_admin_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=28800$/);
    const cookie = setCookie.split(';')[0]!;
    expect((await call(api.url, 'GET', '/v1/admin/settings', { headers: { cookie } })).status).toBe(200);
    // A cookie is admin-only, and changes with it must come from our own origin.
    expectError(await call(api.url, 'GET', '/v1/generations/x', { headers: { cookie } }), 401, 'UNAUTHORIZED');
    const body = { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true };
    expectError(await call(api.url, 'PUT', '/v1/admin/settings', { headers: { cookie, origin: 'http://evil.example' }, json: body }), 403, 'FORBIDDEN');
    expect((await call(api.url, 'PUT', '/v1/admin/settings', { headers: { cookie, origin: api.url }, json: body })).status).toBe(200);
    // A tampered or expired cookie is nothing.
    expectError(await call(api.url, 'GET', '/v1/admin/settings', { headers: { cookie: cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) } }), 401, 'UNAUTHORIZED');
    expectError(await call(api.url, 'GET', '/v1/admin/settings', { headers: { cookie: 'wo_admin_session=v1.1000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } }), 401, 'UNAUTHORIZED');
    const page = await call(api.url, 'GET', '/admin', { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('data-testid="settings-form"');
    for (const [name, type] of [['admin.js', 'text/javascript'], ['admin.css', 'text/css']]) {
      const asset = await call(api.url, 'GET', `/admin/assets/${name}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toContain(type!);
    }
    expectError(await call(api.url, 'GET', '/admin/assets/secrets.txt'), 404, 'NOT_FOUND');
    expect((await call(api.url, 'GET', '/favicon.ico')).status).toBe(204);
    const out = await call(api.url, 'POST', '/admin/logout');
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
  });

  it('stops gracefully: open event streams end, close is idempotent, nothing hangs', async () => {
    const p = await pool.start({ QUEUE_PREFIX: `${h.prefix}_stop` });
    const queue = new Queue(PRIMARY_QUEUE, { connection: { url: h.env.REDIS_URL }, prefix: `${h.prefix}_stop` });
    try {
      const { body } = await post(request('Never runs'), apiAuth, p.url);
      const stream = await openEvents(`${p.url}/v1/generations/${body.id}/events`, apiAuth);
      await stream.waitFor((e) => e.event === 'queued');
      await Promise.all([p.close(), p.close()]);
      await stream.ended;
      await expect(fetch(`${p.url}/healthz`)).rejects.toThrow();
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('never logs tokens or the session cookie, even at trace level', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, { write: (line: string) => void lines.push(line) });
    const p = await pool.start({}, { log });
    await post(request('Logged request'), apiAuth, p.url);
    await get('/v1/admin/settings', adminAuth, p.url);
    await post(request('x'), { authorization: `Bearer ${ADMIN_TOKEN}` }, p.url);
    const login = await call(p.url, 'POST', '/admin/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, raw: `token=${ADMIN_TOKEN}` });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect((await call(p.url, 'GET', '/admin', { headers: { cookie } })).status).toBe(200);
    // Whatever a handler might log about a request is redacted by path.
    log.info({ req: { headers: { authorization: `Bearer ${API_TOKEN}`, cookie } }, config: { adminToken: ADMIN_TOKEN, apiTokens: [API_TOKEN] } }, 'explicit');
    await p.close();
    const text = lines.join('');
    expect(lines.length).toBeGreaterThan(10);
    expect(text).toContain('[redacted]');
    for (const secret of [API_TOKEN, ADMIN_TOKEN, cookie.split('=')[1]!]) expect(text).not.toContain(secret);
  });
});
