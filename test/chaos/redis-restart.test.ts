/**
 * Redis restarted mid-run (its own redis-server, append-only file): workers and producers
 * reconnect by themselves, enqueue fails fast while Redis is away, and every job enqueued
 * before the restart completes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GenerationClient } from '../../producer/client.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from '../helpers/harness.ts';
import { expectCleanLedger } from '../helpers/ledger.ts';
import { startTsProcess, waitForOutput } from '../helpers/processes.ts';
import { apiAuth, call, producerPool } from '../helpers/producer.ts';
import { ownRedis, type OwnRedis } from '../helpers/redis-server.ts';

let redis: OwnRedis;
let h: Harness;

beforeAll(async () => {
  redis = await ownRedis();
  h = await startHarness('redisrestart', { redisUrl: redis.url, env: { LOG_LEVEL: 'info', WORKER_CONCURRENCY: '20', JOB_LOCK_MS: '5000', STALLED_INTERVAL_MS: '2000' } });
  h.sim.setLatency({ 'gpt-4o-mini': 300, 'claude-sonnet-4-6': 300 });
});
afterAll(async () => {
  await h?.close();
  await redis?.stop();
});

it('jobs enqueued before a Redis restart all complete; enqueue fails fast while Redis is away', async () => {
  const worker = startTsProcess('worker/main.ts', h.env);
  const producer = new GenerationClient({ redisUrl: redis.url, queuePrefix: h.prefix });
  const http = producerPool(h.env);
  const api = await http.start();
  const postGeneration = async (agentId: string) => {
    const started = Date.now();
    const res = await call<{ id?: string; error?: { code: string; message: string } }>(api.url, 'POST', '/v1/generations', {
      headers: apiAuth,
      json: { userId: 'u', agentId, userGoal: 'Through the HTTP API', availablePlugins: PLUGINS },
    });
    return { status: res.status, body: res.body, ms: Date.now() - started };
  };
  try {
    await waitForOutput(worker, /worker started/);
    const ids = await Promise.all(Array.from({ length: 80 }, (_, i) => producer.enqueue({ userId: 'u', agentId: `a${i}`, userGoal: goal(`Restart workflow ${i}`), availablePlugins: PLUGINS })));
    await eventually(async () => (await h.rawQueue.getJobCounts('completed')).completed! >= 10, { what: 'progress before the restart' });

    await redis.kill();
    const t0 = Date.now();
    const refused = await producer.enqueue({ userId: 'u', agentId: 'late', userGoal: 'While Redis is down', availablePlugins: PLUGINS }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(refused).toBeInstanceOf(Error);
    expect(Date.now() - t0).toBeLessThan(5_000);
    // The HTTP API answers 503 with a clear error at once, instead of hanging.
    const down = await postGeneration('http-down');
    expect(down.status).toBe(503);
    expect(down.body.error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: expect.stringMatching(/redis/i) });
    expect(down.ms).toBeLessThan(5_000);
    await redis.start();

    // Nobody restarts the worker or the producer: they reconnect on their own.
    const results = await Promise.allSettled(ids.map((id) => h.client.waitForResult(id, { timeoutMs: 90_000 })));
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    expect(worker.child.exitCode).toBeNull();
    const byStatus = await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
    expect(byStatus).toEqual({ succeeded: 80 });
    const again = await producer.enqueue({ userId: 'u', agentId: 'after', userGoal: 'After the restart', availablePlugins: PLUGINS });
    expect((await h.client.waitForResult(again, { timeoutMs: 30_000 })).status).toBe('succeeded');
    // The HTTP producer reconnected by itself too.
    const up = await eventually(async () => {
      const r = await postGeneration('http-up');
      return r.status === 202 && r;
    }, { what: 'the HTTP API to accept again' });
    expect((await h.client.waitForResult(up.body.id!, { timeoutMs: 30_000 })).status).toBe('succeeded');
  } finally {
    await http.closeAll();
    await producer.close();
    await worker.kill('SIGTERM');
  }
});
