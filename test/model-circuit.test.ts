/**
 * The per-model circuit (shared/model-circuit.ts) on the real Redis, with a clock the test moves:
 * it opens when the window's calls mostly failed with call failures, skips the model while open,
 * gives one probe at a time after 30 s, and the probe's answer closes or reopens it; two
 * replicas share it.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTEMPT_OUTCOMES } from '../shared/outcomes.ts';
import { CIRCUIT_MIN_CALLS, CIRCUIT_OPEN_MS, CIRCUIT_WINDOW_MS, circuitVerdict, probeLeaseMs, RedisModelCircuit } from '../shared/model-circuit.ts';
import { TEST_REDIS_URL, uniqueName } from './helpers/database.ts';
import { startCluster } from './helpers/redis-topology.ts';

let redis: Redis;
let other: Redis;
const prefix = `{${uniqueName('circuit')}}`;
let t = 1_800_000_000_000;
const clock = () => t;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  other = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  other.disconnect();
});

async function recordMany(c: RedisModelCircuit, model: string, failed: number, ok: number): Promise<void> {
  for (let i = 0; i < failed; i++) await c.record(model, true);
  for (let i = 0; i < ok; i++) await c.record(model, false);
}

describe('opening', () => {
  it('stays closed below the minimum number of calls, opens at it when they all failed', async () => {
    const c = new RedisModelCircuit(redis, prefix, clock);
    await recordMany(c, 'm-min', CIRCUIT_MIN_CALLS - 1, 0);
    expect(await c.allow('m-min')).toBe('closed');
    await c.record('m-min', true);
    expect(await c.allow('m-min')).toBe('open');
    expect((await c.views(['m-min']))[0]).toMatchObject({ state: 'open', calls: CIRCUIT_MIN_CALLS, failures: CIRCUIT_MIN_CALLS, openedAt: t });
  });

  it('opens at half the calls failed, not below', async () => {
    const c = new RedisModelCircuit(redis, prefix, clock);
    await recordMany(c, 'm-half-below', 9, 11);
    expect(await c.allow('m-half-below')).toBe('closed');
    await recordMany(c, 'm-half', 10, 10);
    expect(await c.allow('m-half')).toBe('open');
  });

  it('answers (valid or not) never open it; failures older than the window are forgotten', async () => {
    const c = new RedisModelCircuit(redis, prefix, clock);
    await recordMany(c, 'm-answers', 0, 40);
    expect(await c.allow('m-answers')).toBe('closed');
    await recordMany(c, 'm-old', 15, 0);
    t += CIRCUIT_WINDOW_MS + 1;
    await recordMany(c, 'm-old', 10, 0);
    expect(await c.allow('m-old')).toBe('closed');
    expect((await c.views(['m-old']))[0]).toMatchObject({ state: 'closed', calls: 10, failures: 10 });
  });

  it('is shared by replicas: one opens it, another skips the model', async () => {
    const a = new RedisModelCircuit(redis, prefix, clock);
    const b = new RedisModelCircuit(other, prefix, clock);
    await recordMany(a, 'm-shared', CIRCUIT_MIN_CALLS, 0);
    expect(await b.allow('m-shared')).toBe('open');
  });
});

describe('half-open', () => {
  async function opened(model: string): Promise<RedisModelCircuit> {
    const c = new RedisModelCircuit(redis, prefix, clock);
    await recordMany(c, model, CIRCUIT_MIN_CALLS, 0);
    expect(await c.allow(model)).toBe('open');
    return c;
  }

  it('after the open time, exactly one of many concurrent callers gets the probe', async () => {
    const c = await opened('m-probe');
    t += CIRCUIT_OPEN_MS - 1;
    expect(await c.allow('m-probe')).toBe('open');
    t += 1;
    const replicas = [c, new RedisModelCircuit(other, prefix, clock)];
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => replicas[i % 2]!.allow('m-probe')));
    expect(answers.filter((a) => a === 'probe')).toHaveLength(1);
    expect(answers.filter((a) => a === 'open')).toHaveLength(11);
    expect((await c.views(['m-probe']))[0]!.state).toBe('half_open');
  });

  it('a probe that answers closes it and forgets the window', async () => {
    const c = await opened('m-recover');
    t += CIRCUIT_OPEN_MS;
    expect(await c.allow('m-recover')).toBe('probe');
    // A call started before it opened ends meanwhile: only the probe decides.
    await c.record('m-recover', false);
    expect(await c.allow('m-recover')).toBe('open');
    await c.record('m-recover', false, { probe: true });
    expect(await c.allow('m-recover')).toBe('closed');
    await c.record('m-recover', true);
    expect(await c.allow('m-recover')).toBe('closed');
    expect((await c.views(['m-recover']))[0]).toMatchObject({ state: 'closed', calls: 1, failures: 1, openedAt: null });
  });

  it('a probe that fails opens it for another open time', async () => {
    const c = await opened('m-still-down');
    t += CIRCUIT_OPEN_MS;
    expect(await c.allow('m-still-down')).toBe('probe');
    await c.record('m-still-down', true, { probe: true });
    expect(await c.allow('m-still-down')).toBe('open');
    t += CIRCUIT_OPEN_MS - 1;
    expect(await c.allow('m-still-down')).toBe('open');
    t += 1;
    expect(await c.allow('m-still-down')).toBe('probe');
  });

  it('a probe whose worker died is given again once its lease ends', async () => {
    const c = await opened('m-lease');
    t += CIRCUIT_OPEN_MS;
    const lease = probeLeaseMs({ timeoutMs: 30_000 });
    expect(await c.allow('m-lease', { probeLeaseMs: lease })).toBe('probe');
    t += lease - 1;
    expect(await c.allow('m-lease', { probeLeaseMs: lease })).toBe('open');
    t += 1;
    expect(await c.allow('m-lease', { probeLeaseMs: lease })).toBe('probe');
  });
});

it('keys share the prefix hash tag, one key per model', async () => {
  const keys = await redis.keys(`${prefix}:orchestrator:model-circuit:*`);
  expect(keys.length).toBeGreaterThan(3);
  for (const k of keys) expect(k.startsWith(prefix)).toBe(true);
});

it('circuitVerdict: call failures count, answers count as healthy, 429 and 400 say nothing', () => {
  const verdicts = Object.fromEntries(ATTEMPT_OUTCOMES.map((o) => [o, circuitVerdict(o)]));
  expect(verdicts).toMatchObject({ ok: false, schema: false, truncated: false, timeout: true, api_error: true, model_unavailable: true, quota_exhausted: true, auth_error: true, rate_limit: null, bad_request: null });
});

it('works under Redis Cluster: each script touches one key, each model\'s keys share the prefix\'s slot', async () => {
  const cluster = await startCluster(3);
  const client = new Cluster(cluster.seeds.split(',').map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) })), { redisOptions: { maxRetriesPerRequest: null } });
  try {
    const c = new RedisModelCircuit(client, '{wf}', clock);
    await recordMany(c, 'gpt-4o-mini', CIRCUIT_MIN_CALLS, 0);
    expect(await c.allow('gpt-4o-mini')).toBe('open');
    t += CIRCUIT_OPEN_MS;
    expect(await c.allow('gpt-4o-mini')).toBe('probe');
    await c.record('gpt-4o-mini', false, { probe: true });
    const views = await c.views(['gpt-4o-mini', 'claude-sonnet-4-6']);
    expect(views.map((v) => [v.model, v.state])).toEqual([['gpt-4o-mini', 'closed'], ['claude-sonnet-4-6', 'closed']]);
    const slots = await Promise.all(['gpt-4o-mini', 'claude-sonnet-4-6'].map((m) => client.call('CLUSTER', 'KEYSLOT', `{wf}:orchestrator:model-circuit:${m}`)));
    expect(new Set(slots).size).toBe(1);
  } finally {
    client.disconnect();
    await cluster.stop();
  }
}, 60_000);
