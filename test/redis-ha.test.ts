/**
 * Redis beyond one node, on real servers the test starts: a 3-primary Cluster, a Sentinel group
 * whose primary is SIGKILLed mid-run, and a TLS-only server with a CA made here. Producer (HTTP
 * and library) and worker run the production code, connected through shared/redis.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { expectCleanLedger } from './helpers/ledger.ts';
import { apiAuth, call, producerPool } from './helpers/producer.ts';
import { type OwnCluster, type OwnSentinelGroup, type OwnTlsRedis, startCluster, startSentinelGroup, startTlsRedis } from './helpers/redis-topology.ts';

/** Services first, then the servers; each step bounded, so a hung close never leaves servers running. */
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.race([c().catch(() => {}), new Promise((r) => setTimeout(r, 15_000))]);
}, 120_000);

const request = (i: number) => ({ userId: `user-${i % 7}`, agentId: 'agent-1', userGoal: goal(`Summarise unread email to Slack, run ${i}`), availablePlugins: PLUGINS });

async function started(label: string, redisEnv: Record<string, string>, options: { hashTag?: boolean } = {}): Promise<{ h: Harness; api: string }> {
  // Short locks: a job whose completion was lost with the old primary is taken over in seconds.
  const env = { WORKER_CONCURRENCY: '50', JOB_LOCK_MS: '5000', STALLED_INTERVAL_MS: '2000' };
  const h = await startHarness(label, { redisEnv, ...(options.hashTag ? { prefix: (u: string) => `{${u}}` } : {}), env });
  const pool = producerPool(h.env);
  cleanups.push(() => h.close(), () => pool.closeAll());
  await h.startWorker();
  const api = (await pool.start()).url;
  return { h, api };
}

async function postHttp(api: string, i: number): Promise<string | undefined> {
  const r = await call(api, 'POST', '/v1/generations', { headers: apiAuth, json: request(i) }).catch(() => undefined);
  return r?.status === 202 ? (r.body.id as string) : undefined;
}

describe('Redis Cluster, 3 primaries', () => {
  let cluster: OwnCluster;

  it('runs 300 requests through HTTP and the library: one final row and one final audit row each', async () => {
    cluster = await startCluster(3);
    cleanups.push(() => cluster.stop());
    const { h, api } = await started('cluster', { REDIS_CLUSTER_NODES: cluster.seeds }, { hashTag: true });
    const ids: string[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const http = await Promise.all(Array.from({ length: 25 }, (_, i) => postHttp(api, batch * 50 + i)));
      const lib = await Promise.all(Array.from({ length: 25 }, (_, i) => h.client.enqueue(request(batch * 50 + 25 + i))));
      expect(http.every((id) => id !== undefined), 'every HTTP enqueue accepted').toBe(true);
      ids.push(...(http as string[]), ...lib);
    }
    expect(new Set(ids).size).toBe(300);
    // Postgres gets every request's final row...
    const unfinished = async () => {
      const rows = await h.db.sql<{ job_id: string }[]>`select job_id from workflow_generations where status <> 'queued' and job_id in ${h.db.sql(ids)}`;
      const have = new Set(rows.map((r) => r.job_id));
      return ids.filter((id) => !have.has(id));
    };
    await eventually(async () => (await unfinished()).length === 0, { timeoutMs: 120_000, what: 'all 300 requests to finish' }).catch(async (err) => {
      const left = await unfinished();
      const states = await Promise.all(left.slice(0, 5).map(async (id) => `${id}: ${(await h.rawQueue.getJob(id))?.finishedOn ? 'finished' : await h.rawQueue.getJobState(id)}`));
      throw new Error(`${(err as Error).message}; ${left.length} unfinished, e.g. ${states.join(', ')}`);
    });
    // ...and the library reads results over the cluster. After the rows, not racing them: one
    // waiter in 300 racing the run once missed its job's completion on a Cluster (docs/redis.md).
    const results = await Promise.all(ids.slice(0, 20).map((id) => h.client.waitForResult(id, { timeoutMs: 60_000 })));
    expect(results.every((r) => r.status === 'succeeded' || r.status === 'failed')).toBe(true);
    await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
  }, 240_000);
});

describe('TLS with a private CA', () => {
  let tls: OwnTlsRedis;

  it('a producer and a worker run requests over rediss:// with REDIS_TLS_CA_FILE', async () => {
    tls = await startTlsRedis();
    cleanups.push(() => tls.stop());
    const { h, api } = await started('tls', { REDIS_URL: tls.url, REDIS_TLS_CA_FILE: tls.caFile });
    const ids = (await Promise.all(Array.from({ length: 10 }, (_, i) => postHttp(api, i)))).filter((id): id is string => id !== undefined);
    expect(ids.length).toBe(10);
    await Promise.all(ids.map((id) => h.client.waitForResult(id, { timeoutMs: 60_000 })));
    await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
  }, 120_000);
});

describe('Sentinel: 1 primary, 1 replica, 3 sentinels; the primary SIGKILLed mid-run', () => {
  let group: OwnSentinelGroup;

  it('clients follow the new primary without a restart; what the failover lost is counted', async () => {
    group = await startSentinelGroup();
    cleanups.push(() => group.stop());
    const { h, api } = await started('sentinel', { REDIS_SENTINELS: group.addresses, REDIS_SENTINEL_NAME: group.name });
    const oldPort = await group.primaryPort();
    const accepted: string[] = [];
    const batchOf = new Map<string, number>();
    let refused = 0;
    for (let batch = 0; batch < 12; batch++) {
      if (batch === 4) {
        const { Redis } = await import('ioredis');
        const pc = new Redis({ port: group.primary.port, host: '127.0.0.1' }); const rc = new Redis({ port: group.replica.port, host: '127.0.0.1' });
        const off = (s: string, k: string) => /\r?\n?/.test(s) ? (new RegExp(`${k}:(\\d+)`).exec(s)?.[1]) : '';
        const pi = await pc.info('replication'); const ri = await rc.info('replication');
        console.log('DIAG before kill primary offset', off(pi, 'master_repl_offset'), 'replica offset', off(ri, 'slave_repl_offset'), 'keys', await pc.dbsize(), await rc.dbsize());
        pc.disconnect(); rc.disconnect();
        await group.primary.kill();
        console.log('DIAG killed at', Date.now());
      }
      const t0 = Date.now();
      const ids = await Promise.all(Array.from({ length: 25 }, (_, i) => postHttp(api, batch * 25 + i)));
      console.log('DIAG batch', batch, 'took', Date.now() - t0, 'accepted', ids.filter(Boolean).length);
      for (const id of ids) if (id) batchOf.set(id, batch);
      for (const id of ids) (id ? accepted.push(id) : refused++);
      if (ids.some((id) => id === undefined)) {
        // Refused requests were answered 503: the caller knows. The load resumes once the producer
        // is back on the new primary (the request that finds it is counted like the others).
        accepted.push(await eventually(() => postHttp(api, 20_000 + batch), { timeoutMs: 30_000, what: 'the producer to accept work again' }));
      }
    }
    await eventually(async () => (await group.primaryPort()) !== oldPort, { timeoutMs: 30_000, what: 'the sentinels to promote the replica' });
    expect(await group.primaryPort()).toBe(group.replica.port);
    // After the failover the same producer and worker accept and finish new work: no restart.
    const after = await eventually(() => postHttp(api, 10_000), { timeoutMs: 30_000, what: 'the producer to accept work on the new primary' });
    await h.client.waitForResult(after!, { timeoutMs: 60_000 });

    // Finished requests may already be gone from Redis (removed on completion): Postgres is the record.
    const finalIds = async () => {
      const rows = await h.db.sql<{ job_id: string }[]>`select job_id from workflow_generations where status <> 'queued' and job_id in ${h.db.sql(accepted)}`;
      return new Set(rows.map((r) => r.job_id));
    };
    // Settled: the count stops moving for 8 s (longer than a lock and a stalled check) with nothing left active or waiting in either queue.
    let seen = -1;
    await eventually(
      async () => {
        const n = (await finalIds()).size;
        const counts = await Promise.all([h.rawQueue, h.fallbackQueue].map((q) => q.getJobCounts('active', 'wait', 'delayed')));
        const busy = counts.some((c) => (c.active ?? 0) + (c.wait ?? 0) + (c.delayed ?? 0) > 0);
        const stable = n === seen && !busy;
        seen = n;
        if (!stable) await new Promise((r) => setTimeout(r, 8_000));
        return stable || n === accepted.length;
      },
      { timeoutMs: 90_000, what: 'the accepted requests to settle' },
    );
    const done = await finalIds();
    const lost = accepted.filter((id) => !done.has(id));
    const byBatch = new Map<number, number>();
    for (const id of lost) byBatch.set(batchOf.get(id) ?? -1, (byBatch.get(batchOf.get(id) ?? -1) ?? 0) + 1);
    console.log('DIAG lost by batch', [...byBatch.entries()]);
    const states = await Promise.all(lost.slice(0, 60).map((id) => h.rawQueue.getJobState(id)));
    const sc = new Map<string, number>(); for (const s of states) sc.set(s, (sc.get(s) ?? 0) + 1);
    console.log('DIAG lost states', [...sc.entries()]);
    const rows = await h.db.sql<{ status: string; n: number }[]>`select status, count(*)::int as n from workflow_generations where job_id in ${h.db.sql(lost)} group by status`;
    console.log('DIAG lost rows', rows);
    console.log(`sentinel failover: ${accepted.length} accepted, ${refused} refused with 503, ${lost.length} accepted and lost: ${lost.join(' ')}`);
    await expectCleanLedger(h.db, [...done], [h.rawQueue, h.fallbackQueue]);
  }, 240_000);
});
