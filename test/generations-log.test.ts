/**
 * The request log and one request in full, over requests real workers ran against the simulated
 * provider: filters, newest-first keyset paging, CSV streaming (read back with csv-parse), the
 * detail with attempts and audit rows, and the admin-only access.
 */
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProducer } from '../producer/server.ts';
import { goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { adminAuth, apiAuth, call, producerPool } from './helpers/producer.ts';

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let producer: RunningProducer;
const ids: Record<string, string> = {};

async function run(name: string, userId: string, ...directives: string[]): Promise<void> {
  ids[name] = await h.client.enqueue({ userId, agentId: `agent-${name}`, userGoal: goal(`Post the sales summary to Slack (${name})`, ...directives), availablePlugins: PLUGINS });
  await h.client.waitForResult(ids[name]!, { timeoutMs: 30_000 }).catch(() => undefined);
}

beforeAll(async () => {
  h = await startHarness('generations-log');
  await h.startWorker();
  pool = producerPool(h.env);
  producer = await pool.start();
  // One at a time, so creation order is the order here.
  for (let i = 0; i < 4; i++) await run(`ok-${i}`, i % 2 === 0 ? 'alice' : 'bob');
  await run('fb-0', 'alice', 'gpt-4o-mini=schema');
  await run('fb-1', 'carol', 'gpt-4o-mini=schema');
  await run('failed', 'carol', 'gpt-4o-mini=server_error', 'claude-sonnet-4-6=server_error');
}, 120_000);

afterAll(async () => {
  await pool?.closeAll();
  await h?.close();
});

const log = (query = '') => call(producer.url, 'GET', `/v1/admin/generations${query}`, { headers: adminAuth });
const idsOf = (items: Array<{ id: string }>) => items.map((i) => i.id);

describe('GET /v1/admin/generations', () => {
  it('lists every request newest first', async () => {
    const res = await log();
    expect(res.status, res.text).toBe(200);
    expect(idsOf(res.body.items)).toEqual(['failed', 'fb-1', 'fb-0', 'ok-3', 'ok-2', 'ok-1', 'ok-0'].map((n) => ids[n]));
    expect(res.body.nextCursor).toBeNull();
    expect(res.body.items[0]).toMatchObject({ status: 'failed', userId: 'carol', primaryModel: 'gpt-4o-mini' });
    expect(res.body.items[1]).toMatchObject({ status: 'succeeded', generatorUsed: 'claude-sonnet-4-6', fallbackReason: 'schema', attempts: 2 });
    expect(res.body.items[1].costUsd).toBeGreaterThan(0);
  });

  it.each([
    ['?status=failed', ['failed']],
    ['?fallbackReason=schema', ['fb-1', 'fb-0']],
    ['?generator=claude-sonnet-4-6', ['fb-1', 'fb-0']],
    ['?userId=alice', ['fb-0', 'ok-2', 'ok-0']],
    ['?userId=carol&status=succeeded', ['fb-1']],
    ['?agentId=agent-ok-1', ['ok-1']],
    ['?primaryModel=gpt-4o', []],
  ])('filters %s', async (query, expected) => {
    const res = await log(query);
    expect(res.status, res.text).toBe(200);
    expect(idsOf(res.body.items)).toEqual(expected.map((n) => ids[n]));
  });

  it('filters by time range and job-id prefix', async () => {
    const all = (await log()).body.items as Array<{ id: string; createdAt: string }>;
    const pivot = all[3]!.createdAt; // ok-3
    expect(idsOf((await log(`?from=${encodeURIComponent(pivot)}`)).body.items)).toEqual(idsOf(all.slice(0, 4)));
    expect(idsOf((await log(`?to=${encodeURIComponent(pivot)}`)).body.items)).toEqual(idsOf(all.slice(4)));
    const prefix = ids['fb-0']!.slice(0, 12);
    expect(idsOf((await log(`?jobIdPrefix=${prefix}`)).body.items)).toContain(ids['fb-0']);
    for (const item of (await log(`?jobIdPrefix=${prefix}`)).body.items) expect(item.id.startsWith(prefix)).toBe(true);
  });

  it('pages with a cursor: every row once, in order, and no cursor after the last page', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await log(`?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...idsOf(res.body.items));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(idsOf((await log()).body.items));
  });

  it('refuses bad parameters with field errors', async () => {
    for (const [query, path] of [['?limit=500', '/limit'], ['?status=done', '/status'], ['?from=yesterday', '/from'], ['?cursor=not-a-cursor', '/cursor'], ['?color=red', '']] as const) {
      const res = await log(query);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code, query).toBe('INVALID_REQUEST');
      if (path) expect(JSON.stringify(res.body.error.details), query).toContain(path);
    }
  });

  it('streams the same rows as CSV', async () => {
    const res = await fetch(`${producer.url}/v1/admin/generations?format=csv&userId=carol`, { headers: adminAuth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const rows = parse(await res.text(), { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => r.id)).toEqual([ids.failed, ids['fb-1']]);
    expect(rows[1]).toMatchObject({ status: 'succeeded', generatorUsed: 'claude-sonnet-4-6', fallbackReason: 'schema', userId: 'carol' });
    expect(Number(rows[1]!.costUsdExact)).toBeGreaterThan(0);
    const everything = parse(await (await fetch(`${producer.url}/v1/admin/generations?format=csv`, { headers: adminAuth })).text(), { columns: true }) as unknown[];
    expect(everything).toHaveLength(7);
  });

  it('is for admins only', async () => {
    expect((await call(producer.url, 'GET', '/v1/admin/generations', { headers: apiAuth })).status).toBe(403);
    expect((await call(producer.url, 'GET', '/v1/admin/generations', {})).status).toBe(401);
  });
});

describe('GET /v1/admin/generations/{id}', () => {
  it('shows a request in full: request, settings, every attempt, audit rows, workflow', async () => {
    const res = await call(producer.url, 'GET', `/v1/admin/generations/${ids['fb-0']}`, { headers: adminAuth });
    expect(res.status, res.text).toBe(200);
    const d = res.body;
    expect(d).toMatchObject({ id: ids['fb-0'], status: 'succeeded', generatorUsed: 'claude-sonnet-4-6', fallbackReason: 'schema' });
    expect(d.request).toMatchObject({ userId: 'alice', agentId: 'agent-fb-0' });
    expect(d.settings).toMatchObject({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
    expect(d.workflow.pilot_steps.length).toBeGreaterThan(0);
    expect(d.attemptRows.map((a: { role: string; model: string; outcome: string }) => [a.role, a.model, a.outcome])).toEqual([
      ['primary', 'gpt-4o-mini', 'schema'],
      ['fallback', 'claude-sonnet-4-6', 'ok'],
    ]);
    const [primary, fallback] = d.attemptRows;
    expect(primary.validationErrors.length).toBeGreaterThan(0);
    expect(primary.validationErrors[0].path).toMatch(/^\//);
    expect(primary.httpStatus).toBe(200);
    expect(fallback.costUsd).toBeGreaterThan(primary.costUsd);
    expect(d.costUsd).toBeCloseTo(primary.costUsd + fallback.costUsd, 9);
    expect(d.audit.map((a: { action: string }) => a.action)).toEqual(['WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATED']);
  });

  it('answers 404 for an unknown id', async () => {
    const res = await call(producer.url, 'GET', '/v1/admin/generations/no-such-job', { headers: adminAuth });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});

describe('GET /v1/admin/fallback-events', () => {
  it('lists the hand-overs newest first with reason and models, linked to their requests, paged', async () => {
    const res = await call(producer.url, 'GET', '/v1/admin/fallback-events', { headers: adminAuth });
    expect(res.status, res.text).toBe(200);
    // fb-0, fb-1 and the failed request (its primary call failed with a 500) handed over.
    expect(res.body.items.map((e: { requestId: string }) => e.requestId)).toEqual([ids.failed, ids['fb-1'], ids['fb-0']]);
    expect(res.body.items[1]).toMatchObject({ reason: 'schema', primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', userId: 'carol' });
    expect(res.body.items[0].reason).toBe('api_error');
    const first = await call(producer.url, 'GET', '/v1/admin/fallback-events?limit=2', { headers: adminAuth });
    expect(first.body.items).toHaveLength(2);
    const second = await call(producer.url, 'GET', `/v1/admin/fallback-events?limit=2&cursor=${first.body.nextCursor}`, { headers: adminAuth });
    expect(second.body.items.map((e: { requestId: string }) => e.requestId)).toEqual([ids['fb-0']]);
    expect(second.body.nextCursor).toBeNull();
  });
});
