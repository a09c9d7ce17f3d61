/**
 * Pacing after a 429 (worker/model-pauses.ts), on the real Redis: it starts only when calls were
 * admitted at a real rate, it is shared through Redis, and paced calls are spread out instead of
 * all going at once. No timing targets: only which calls may go and what is stored.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisModelPauses } from '../worker/model-pauses.ts';
import { TEST_REDIS_URL, uniqueName } from './helpers/database.ts';
import { ownRedis } from './helpers/redis-server.ts';

let redis: Redis;
const prefix = uniqueName('pacing');
const paceKey = (model: string) => `${prefix}:orchestrator:model-pace:${model}`;
const callsKey = (model: string) => `${prefix}:orchestrator:model-calls:${model}`;

/** Calls counted for a model: per Redis second, the last one kept as `prev`; the sum is what pacing reads. */
async function countedCalls(client: Redis, model: string): Promise<number> {
  const [cur, prev] = await client.hmget(callsKey(model), 'cur', 'prev');
  return Number(cur ?? 0) + Number(prev ?? 0);
}

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

it('a 429 at a low call rate only pauses: no pacing', async () => {
  const pauses = new RedisModelPauses(redis, prefix);
  for (let i = 0; i < 5; i++) expect(await pauses.remainingMs('gpt-4o-mini')).toBe(0);
  await pauses.pause('gpt-4o-mini', 1);
  expect(await redis.exists(paceKey('gpt-4o-mini'))).toBe(0);
});

it('a 429 while calls go out at a real rate paces the model for every replica', async () => {
  const [a, b] = [new RedisModelPauses(redis, prefix), new RedisModelPauses(redis, prefix)];
  for (let i = 0; i < 60; i++) expect(await a.remainingMs('claude-sonnet-4-6')).toBe(0);
  await a.pause('claude-sonnet-4-6', 1);
  const rate = Number(await redis.hget(paceKey('claude-sonnet-4-6'), 'rate'));
  // Half of what was admitted over the last second, never under 10 a second.
  expect(rate).toBeGreaterThanOrEqual(10);
  expect(rate).toBeLessThanOrEqual(31);
  expect(await redis.pttl(paceKey('claude-sonnet-4-6'))).toBeGreaterThan(50_000);

  await new Promise((r) => setTimeout(r, 5)); // the 1 ms pause is over
  // The other replica now gets turns: a near one is waited for (0), the rest come back later (> 0).
  const answers = await Promise.all(Array.from({ length: 40 }, () => b.remainingMs('claude-sonnet-4-6')));
  const now = answers.filter((ms) => ms === 0).length;
  expect(now).toBeGreaterThan(0);
  expect(now).toBeLessThan(40);
  expect(answers.filter((ms) => ms > 0).length).toBe(40 - now);

  // Pacing is per model: another model is not held back.
  expect(await b.remainingMs('gpt-4.1')).toBe(0);
});

it('sends its scripts by SHA, and again in full when Redis has forgotten them', async () => {
  // A Redis of its own: SCRIPT FLUSH would make every other test's scripts reload too.
  await withOwnRedis(async (client) => {
    const pauses = new RedisModelPauses(client, prefix);
    for (let i = 0; i < 5; i++) expect(await pauses.remainingMs('gpt-4o-mini')).toBe(0);
    // The text went once (the first call found Redis without it), then only the SHA.
    expect(await commandCalls(client, ['evalsha', 'eval'])).toEqual([5, 1]);
    await client.script('FLUSH');
    expect(await pauses.remainingMs('gpt-4o-mini')).toBe(0);
    expect(await commandCalls(client, ['evalsha', 'eval'])).toEqual([6, 2]);
  });
});

/** Runs `run` against a Redis of its own, started for it and stopped after. */
async function withOwnRedis(run: (client: Redis) => Promise<void>): Promise<void> {
  const own = await ownRedis();
  const client = new Redis(own.url, { maxRetriesPerRequest: null, lazyConnect: true });
  await client.connect();
  try {
    await run(client);
  } finally {
    await client.quit();
    await own.stop();
  }
}

async function commandCalls(client: Redis, commands: readonly string[]): Promise<number[]> {
  const info = await client.info('commandstats');
  return commands.map((c) => Number(new RegExp(`^cmdstat_${c}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0));
}

it('a check started ahead stands only while fresh and while no pause was noted since', async () => {
  await withOwnRedis(async (client) => {
    let now = Date.now();
    const clock = () => now;
    const pauses = new RedisModelPauses(client, prefix, clock);
    const other = new RedisModelPauses(client, prefix);
    const admits = async () => (await commandCalls(client, ['evalsha', 'eval'])).reduce((a, b) => a + b, 0);

    await pauses.remainingMs('warm-up'); // Redis learns the script
    // Fresh and unchanged: the answer checked ahead, with no second round trip.
    const before = await admits();
    const fresh = pauses.checkAhead('gpt-4o-mini');
    expect(await fresh.remainingMs()).toBe(0);
    expect(await admits()).toBe(before + 1);
    // Redeemed once only: a second call asks again.
    expect(await fresh.remainingMs()).toBe(0);
    expect(await admits()).toBe(before + 2);

    // A 429 in this process after the check started: the pause holds the call.
    const ahead = pauses.checkAhead('claude-sonnet-4-6');
    await pauses.pause('claude-sonnet-4-6', 60_000);
    expect(await ahead.remainingMs()).toBeGreaterThan(50_000);

    // Another replica's pause after an answer older than the trust window: seen.
    const stale = pauses.checkAhead('gpt-4.1');
    await answered(client); // the check has its answer (0)
    await other.pause('gpt-4.1', 60_000);
    now += 1_000;
    expect(await stale.remainingMs()).toBeGreaterThan(50_000);
  });
});

/**
 * Every reply sent on `client` so far has been handled: Redis answers one connection in order,
 * and the continuations of earlier replies run before the next macrotask.
 */
async function answered(client: Redis): Promise<void> {
  await client.ping();
  await new Promise((r) => setImmediate(r));
}

it('a stale "go" checked ahead keeps a near pacing turn: only the pause is asked again', async () => {
  await withOwnRedis(async (client) => {
    let now = Date.now();
    const clock = () => now;
    const model = 'gpt-4o-mini';
    const keys = { pace: paceKey(model), calls: callsKey(model), pause: `${prefix}:orchestrator:model-pause:${model}` };
    const pauses = new RedisModelPauses(client, prefix, clock);
    // Redis learns the script first: a check that finds it unknown sends it in a second round
    // trip, after the one `answered` waits for.
    await pauses.remainingMs('warm-up');
    // The model is paced at 20 calls a second: each admission takes a 50 ms turn.
    await client.hset(keys.pace, 'rate', 20);
    const ahead = pauses.checkAhead(model);
    await answered(client);
    const tat = Number(await client.hget(keys.pace, 'tat'));
    expect(tat).toBeGreaterThan(0);

    now += 100; // too old to stand, the turn still near
    const before = await commandCalls(client, ['evalsha', 'eval', 'pttl']);
    expect(await ahead.remainingMs()).toBe(0);
    // One PTTL, no second admission: no second turn taken, the call counted once.
    expect(await commandCalls(client, ['evalsha', 'eval', 'pttl'])).toEqual([before[0], before[1], before[2]! + 1]);
    expect(Number(await client.hget(keys.pace, 'tat'))).toBe(tat);
    expect(Number(await client.hget(keys.calls, 'cur'))).toBe(1);

    // A turn left far behind (the job was held up): admitted again, on a fresh turn.
    await client.hset(keys.pace, 'tat', 0); // each check below gets a turn at once
    const late = pauses.checkAhead(model);
    await answered(client);
    now += 1_000;
    const counted = () => countedCalls(client, model);
    const [countedBefore, tatBefore] = [await counted(), Number(await client.hget(keys.pace, 'tat'))];
    expect(await late.remainingMs()).toBeGreaterThanOrEqual(0);
    await answered(client);
    // A fresh turn, and the call counted once: the early "go" was taken back.
    expect(Number(await client.hget(keys.pace, 'tat'))).toBeGreaterThan(tatBefore);
    expect(await counted()).toBe(countedBefore);

    // Paused since (another replica's 429): the stale "go" is held back all the same.
    await client.hset(keys.pace, 'tat', 0);
    const second = pauses.checkAhead(model);
    await answered(client);
    await client.set(keys.pause, '1', 'PX', 60_000);
    now += 100;
    expect(await second.remainingMs()).toBeGreaterThan(50_000);
  });
});

it('a stale "go" given while the model was not paced is admitted again: pacing that began since holds it', async () => {
  await withOwnRedis(async (client) => {
    let now = Date.now();
    const model = 'claude-sonnet-4-6';
    const pauses = new RedisModelPauses(client, prefix, () => now);
    await pauses.remainingMs('warm-up'); // Redis learns the script (see above)
    const ahead = pauses.checkAhead(model);
    await answered(client); // "go", no turn: the model is not paced
    expect(await client.exists(paceKey(model))).toBe(0);
    // A 429 elsewhere starts pacing at 20 calls a second, its next turn 200 s away (past the
    // 250 ms horizon: the call must come back later).
    const redisNow = Number((await client.time())[0]) * 1000;
    await client.hset(paceKey(model), 'rate', 20, 'tat', redisNow + 200_000);
    now += 100;
    // Admitted again: the turn is far off, so the call comes back later instead of going now.
    expect(await ahead.remainingMs()).toBeGreaterThan(0);
  });
});

it('calls sent back to come later are not counted as calls made: pacing starts from the calls that went', async () => {
  const model = 'gpt-4.1-mini';
  const calls = callsKey(model);
  const pauses = new RedisModelPauses(redis, prefix);
  // Paced, its next turn 200 s away: every check is told to come back later.
  const redisNow = Number((await redis.time())[0]) * 1000;
  await redis.hset(paceKey(model), 'rate', 20, 'tat', redisNow + 200_000);
  for (let i = 0; i < 30; i++) expect(await pauses.remainingMs(model)).toBeGreaterThan(0);
  expect(await redis.hget(calls, 'cur')).toBeNull();
  // Pacing over: the calls that go are counted again.
  await redis.del(paceKey(model));
  expect(await pauses.remainingMs(model)).toBe(0);
  expect(await redis.hget(calls, 'cur')).toBe('1');
});

it('a "go" that ends without a call is taken back from the count pacing starts from', async () => {
  await withOwnRedis(async (client) => {
    const model = 'gpt-4o-mini';
    const pauses = new RedisModelPauses(client, prefix);
    await pauses.remainingMs('warm-up'); // Redis learns the script (see above)
    const counted = () => countedCalls(client, model);

    // Checked ahead and never used (a replay, another model): counted, then taken back.
    const unused = pauses.checkAhead(model);
    await answered(client);
    expect(await counted()).toBe(1);
    await unused.release();
    expect(await counted()).toBe(0);
    await unused.release(); // twice is once
    expect(await counted()).toBe(0);

    // Used: the call went, and stays counted; release after it changes nothing.
    const used = pauses.checkAhead(model);
    expect(await used.remainingMs()).toBe(0);
    await used.release();
    expect(await counted()).toBe(1);

    // Paced, the turn 200 ms away, and a pause begins while the call waits for it: no call, no count.
    const [sec, micros] = await client.time();
    const now = Number(sec) * 1000 + Number(micros) / 1000;
    await client.hset(paceKey(model), 'rate', 20, 'tat', now + 200, 'grown', now + 60_000);
    const waiting = pauses.remainingMs(model);
    await answered(client);
    await client.set(`${prefix}:orchestrator:model-pause:${model}`, '1', 'PX', 60_000);
    expect(await waiting).toBeGreaterThan(50_000);
    await answered(client);
    expect(await counted()).toBe(1);
  });
});
