/**
 * A model call paid for while Postgres is down for longer than the database port waits: the
 * attempt is kept in Redis, the job's next run writes it and decides from it, and the model is
 * not called again for it. Real parts: the simulator, Redis, and Postgres behind a TCP proxy
 * that refuses connections; the port's wait is shortened through DATABASE_RETRY_MAX_WAIT_MS.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../db/generation-repository.ts';
import { TEST_DATABASE_URL } from './helpers/database.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { expectCleanLedger } from './helpers/ledger.ts';
import { startPostgresProxy, type TcpProxy } from './helpers/tcp-proxy.ts';
import { costOf, formatUsd, parseUsd } from '../shared/money.ts';
import { findModel } from '../shared/default-catalog.ts';
import { decodeUnrecorded, encodeUnrecorded, RedisUnrecordedAttempts, UNRECORDED_TTL_SECONDS, type UnrecordedAttempt } from '../worker/unrecorded-attempts.ts';

let h: Harness;
let proxy: TcpProxy;

beforeAll(async () => {
  const viaProxy = await startPostgresProxy(TEST_DATABASE_URL);
  proxy = viaProxy.proxy;
  // The harness's own connection goes direct; the worker's goes through the proxy.
  h = await startHarness('unrecorded', { env: { DATABASE_URL: viaProxy.url, DATABASE_RETRY_MAX_WAIT_MS: '300', LOST_REQUEST_SWEEP_MS: '0' } });
  h.sim.setLatency({ 'gpt-4o-mini': 700, 'claude-sonnet-4-6': 100 });
  await h.startWorker();
});
afterAll(async () => {
  proxy?.restore();
  await h?.close();
  await proxy?.close();
});
beforeEach(() => h.sim.resetStats());

const sample: AttemptRecord = {
  jobId: 'job-1',
  attemptNumber: 2,
  model: 'gpt-4o-mini',
  provider: 'openai',
  role: 'primary',
  outcome: 'unstorable',
  // Text the database refuses, as our errors may quote it: it must come back as it went.
  validationErrors: [{ path: '/name', code: 'unstorable', message: 'NUL \u0000, lone \ud83d and \ude00, U+FFFF \uffff' }],
  errorMessage: 'line\nbreak "quoted" \u0000',
  httpStatus: null,
  retryAfterMs: 1500,
  usage: { inputTokens: 1234, outputTokens: 567, cachedInputTokens: 8, cacheWriteTokens: 9 },
  // Sub-cent amounts a float would round.
  cost: parseUsd('1000.123456789012'),
  pricing: { inputPerMTok: '0.15', outputPerMTok: '0.6', cachedInputPerMTok: '0.075', cacheWritePerMTok: '0' },
  latencyMs: 812,
  settings: { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true, repairAttempts: 1, maxCostPerRequestUsd: '0.05' },
  startedAt: new Date('2026-12-04T21:00:00.123Z'),
  finishedAt: new Date('2026-12-04T21:00:00.935Z'),
};

describe('a kept attempt', () => {
  it('round-trips exactly: picodollars, dates, usage, prices, unstorable text, the workflow', () => {
    const kept: UnrecordedAttempt = { record: sample, workflow: { name: 'W', description: 'd', pilot_steps: [] } as never, stepCount: 3 };
    const back = decodeUnrecorded(encodeUnrecorded(kept));
    expect(back).toEqual(kept);
    expect(back.record.cost).toBe(1_000_123_456_789_012n);
    expect(back.record.startedAt.getTime()).toBe(sample.startedAt.getTime());
    expect(() => decodeUnrecorded(JSON.stringify({ format: 99, record: {} }))).toThrow(/not a kept attempt/);
  });

  it('lives in Redis under the queue prefix, per request and attempt, for days, until cleared', async () => {
    const store = new RedisUnrecordedAttempts(h.redis, h.prefix);
    const later = { record: { ...sample, attemptNumber: 3, cost: 1n }, workflow: null, stepCount: 0 };
    await store.keep(later);
    await store.keep({ record: sample, workflow: null, stepCount: 0 });
    const key = `${h.prefix}:orchestrator:unrecorded-attempts:job-1`;
    expect(await h.redis.ttl(key)).toBeGreaterThan(UNRECORDED_TTL_SECONDS - 60);
    expect((await store.list('job-1')).map((k) => [k.record.attemptNumber, k.record.cost])).toEqual([[2, sample.cost], [3, 1n]]);
    await store.clear('job-1', [2, 3]);
    expect(await store.list('job-1')).toEqual([]);
    expect(await h.redis.exists(key)).toBe(0);
  });
});

/**
 * Enqueues, cuts Postgres as the model is called, and brings it back once the run has failed
 * its job: the write after the answer failed past the port's wait (a connection the proxy
 * accepts and drops takes postgres.js its connect timeout, so that is some 10 s).
 */
async function outageDuringCall(userGoal: string): Promise<string> {
  const id = await h.client.enqueue({ userId: 'u', agentId: 'a', userGoal, availablePlugins: PLUGINS });
  await eventually(async () => h.sim.received().length >= 1, { timeoutMs: 15_000, what: 'the model call' });
  proxy.cut('refuse');
  try {
    await eventually(async () => ((await h.rawQueue.getJob(id))?.attemptsMade ?? 0) >= 1, { timeoutMs: 40_000, what: 'the run failed on the outage' });
  } finally {
    proxy.restore();
  }
  return id;
}

async function ledgerOf(id: string) {
  await h.client.waitForResult(id, { timeoutMs: 30_000 }).catch(() => {});
  await eventually(async () => {
    const [row] = await h.db.sql`select status from workflow_generations where job_id = ${id}`;
    return row && row.status !== 'queued';
  }, { timeoutMs: 30_000, what: `a final row for ${id}` });
  const byStatus = await expectCleanLedger(h.db, [id], [h.rawQueue, h.fallbackQueue]);
  const attempts = await h.db.sql`select model, outcome, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost_usd::text as cost from generation_attempts where job_id = ${id} order by attempt_number`;
  for (const a of attempts) {
    const usage = { inputTokens: a.input_tokens, outputTokens: a.output_tokens, cachedInputTokens: a.cached_input_tokens, cacheWriteTokens: a.cache_write_tokens };
    expect(parseUsd(a.cost as string)).toBeGreaterThan(0n);
    expect(formatUsd(parseUsd(a.cost as string))).toBe(formatUsd(costOf(findModel(a.model as string)!, usage)));
  }
  const audits = await h.db.sql`select action from audit_logs where job_id = ${id} order by id`;
  expect(await h.redis.exists(`${h.prefix}:orchestrator:unrecorded-attempts:${id}`), 'the keep is cleared').toBe(0);
  return { status: Object.keys(byStatus)[0], outcomes: attempts.map((a) => a.outcome), actions: audits.map((a) => a.action) };
}

describe('Postgres down past the port\'s wait after a paid call', () => {
  it('a successful answer: recorded once, the model called once, the request succeeds', async () => {
    const id = await outageDuringCall(goal('Kept answer digest'));
    const ledger = await ledgerOf(id);
    expect(h.sim.stats().totalRequests, 'one call per recorded attempt').toBe(1);
    expect(ledger).toEqual({ status: 'succeeded', outcomes: ['ok'], actions: ['WORKFLOW_GENERATED'] });
  }, 60_000);

  it('an answer that hands over: the failed attempt is recorded once, the fallback called once', async () => {
    const id = await outageDuringCall(goal('Kept hand-over digest', 'gpt-4o-mini=schema'));
    const ledger = await ledgerOf(id);
    expect(h.sim.stats().totalRequests, 'one call per recorded attempt').toBe(2);
    expect(ledger).toEqual({ status: 'succeeded', outcomes: ['schema', 'ok'], actions: ['WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATED'] });
  }, 60_000);
});
