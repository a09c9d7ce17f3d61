/**
 * Redis beyond one node, on real servers the test starts: a 3-primary Cluster, Sentinel groups
 * whose primary is SIGKILLed under load, and a TLS-only server with a CA made here. Producer (HTTP
 * and library) and worker run the production code, connected through shared/redis.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GenerationFailedError } from '../producer/client.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { expectCleanLedger } from './helpers/ledger.ts';
import { apiAuth, call, producerPool } from './helpers/producer.ts';
import { type OwnCluster, type OwnTlsRedis, startCluster, startSentinelGroup, startTlsRedis } from './helpers/redis-topology.ts';

/** Services first, then the servers; each step bounded, so a hung close never leaves servers running. */
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.race([c().catch(() => {}), new Promise((r) => setTimeout(r, 15_000))]);
}, 120_000);

const request = (i: number) => ({ userId: `user-${i % 7}`, agentId: 'agent-1', userGoal: goal(`Summarise unread email to Slack, run ${i}`), availablePlugins: PLUGINS });

async function started(
  label: string,
  redisEnv: Record<string, string>,
  options: { hashTag?: boolean; env?: Record<string, string>; producerEnv?: Record<string, string> } = {},
): Promise<{ h: Harness; api: string; close: () => Promise<unknown> }> {
  // Short locks: a job whose completion was lost with the old primary is taken over in seconds.
  const env = { WORKER_CONCURRENCY: '50', JOB_LOCK_MS: '5000', STALLED_INTERVAL_MS: '2000', ...options.env };
  const h = await startHarness(label, { redisEnv, ...(options.hashTag ? { prefix: (u: string) => `{${u}}` } : {}), env });
  const pool = producerPool(h.env);
  // Once: at the end of a test that frees its Postgres connections early, or in afterAll.
  let closing: Promise<unknown> | undefined;
  const close = () => (closing ??= Promise.all([pool.closeAll(), h.close()]));
  cleanups.push(close);
  await h.startWorker();
  const api = (await pool.start(options.producerEnv)).url;
  return { h, api, close };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
}

async function postHttp(api: string, i: number): Promise<string | undefined> {
  return (await post(api, i)).id;
}

/** The id when accepted; else how long the answer asks the caller to wait (retry-after). */
async function post(api: string, i: number): Promise<{ id?: string; retryAfterMs: number }> {
  const r = await call(api, 'POST', '/v1/generations', { headers: apiAuth, json: request(i) }).catch(() => undefined);
  if (r?.status === 202) return { id: r.body.id as string, retryAfterMs: 0 };
  return { retryAfterMs: Number(r?.headers.get('retry-after') ?? 1) * 1000 };
}

describe('Redis Cluster, 3 primaries', () => {
  let cluster: OwnCluster;

  it('runs 300 requests through HTTP and the library: one final row and one final audit row each', async () => {
    cluster = await startCluster(3);
    cleanups.push(() => cluster.stop());
    const { h, api } = await started('cluster', { REDIS_CLUSTER_NODES: cluster.seeds }, { hashTag: true });
    const ids: string[] = [];
    // The library waits for every request while the run goes on: each waiter subscribes while
    // jobs are finishing (a fresh client's event readers once missed a completion that way).
    const waiting: Promise<{ status: string }>[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const http = await Promise.all(Array.from({ length: 25 }, (_, i) => postHttp(api, batch * 50 + i)));
      const lib = await Promise.all(Array.from({ length: 25 }, (_, i) => h.client.enqueue(request(batch * 50 + 25 + i))));
      expect(http.every((id) => id !== undefined), 'every HTTP enqueue accepted').toBe(true);
      ids.push(...(http as string[]), ...lib);
      waiting.push(...[...(http as string[]), ...lib].map((id) => h.client.waitForResult(id, { timeoutMs: 120_000 }).catch((err: Error) => ({ status: err instanceof GenerationFailedError ? 'failed' : `${id}: ${err.message}` }))));
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
    // ...and every waiter of the library got its result over the cluster.
    const results = await Promise.all(waiting);
    expect(results.filter((r) => !['succeeded', 'invalid', 'failed'].includes(r.status))).toEqual([]);
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

/**
 * A failover under load: 25 callers send 300 requests in all, and the primary is SIGKILLed while
 * requests are in flight, once 100 were accepted. Every accepted request must end recorded
 * (completed, put back by the lost-request sweep and completed, or failed as lost_in_queue),
 * with one final row and one final audit row: no silent loss. Run with each of Redis's
 * mitigations; what each lost is printed (docs/redis.md quotes these lines).
 */
const FAILOVER_RUNS = [
  { mode: 'no mitigation', replicas: 1, minReplicasToWrite: 0, producerEnv: {}, lagging: false },
  { mode: 'min-replicas-to-write 1', replicas: 2, minReplicasToWrite: 1, producerEnv: {}, lagging: false },
  { mode: 'WAIT 1 after the add', replicas: 2, minReplicasToWrite: 0, producerEnv: { ENQUEUE_WAIT_REPLICAS: '1', ENQUEUE_WAIT_TIMEOUT_MS: '500' }, lagging: false },
  // The replica reaches the primary through a proxy that, from the 100th accepted request, holds
  // the replication stream back 500 ms: what is in that delay when the primary dies is lost.
  { mode: 'no mitigation, replica 500 ms behind', replicas: 1, minReplicasToWrite: 0, producerEnv: {}, lagging: true },
  { mode: 'min-replicas-to-write 1, replicas 500 ms behind', replicas: 2, minReplicasToWrite: 1, producerEnv: {}, lagging: true },
  { mode: 'WAIT 1 after the add, replica 500 ms behind', replicas: 1, minReplicasToWrite: 0, producerEnv: { ENQUEUE_WAIT_REPLICAS: '1', ENQUEUE_WAIT_TIMEOUT_MS: '1000' }, lagging: true },
] as const;

describe.each(FAILOVER_RUNS)('Sentinel, the primary SIGKILLed under load ($mode)', ({ mode, replicas, minReplicasToWrite, producerEnv, lagging }) => {
  it('clients follow the new primary without a restart; every accepted request ends recorded, none silently lost', async () => {
    const group = await startSentinelGroup({ replicas, minReplicasToWrite, proxiedReplication: lagging });
    cleanups.push(() => group.stop());
    const { h, api, close } = await started(`sentinel-${replicas}-${minReplicasToWrite}`, { REDIS_SENTINELS: group.addresses, REDIS_SENTINEL_NAME: group.name }, {
      // The sweep looks often and soon, so the test sees its recoveries in seconds.
      env: { LOST_REQUEST_SWEEP_MS: '500', LOST_REQUEST_GRACE_MS: '3000' },
      producerEnv,
    });
    const oldPort = await group.primaryPort();
    const accepted: string[] = [];
    let refused = 0;
    let next = 0;
    let killed: Promise<void> | undefined;
    let slowed = false;
    const latencies: number[] = [];
    const caller = async () => {
      for (let i = next++; i < 300; i = next++) {
        const sent = performance.now();
        const { id, retryAfterMs } = await post(api, i);
        if (id) {
          accepted.push(id);
          latencies.push(performance.now() - sent);
        }
        else {
          refused++;
          // A refused caller waits as the 503's retry-after asks before its next request.
          await new Promise((r) => setTimeout(r, retryAfterMs));
        }
        if (lagging && accepted.length >= 100 && !slowed) {
          slowed = true;
          group.slowReplication(500);
        }
        if (accepted.length >= (lagging ? 150 : 100) && !killed) killed = group.primary.kill();
      }
    };
    await Promise.all(Array.from({ length: 25 }, caller));
    await killed;
    await eventually(async () => (await group.primaryPort()) !== oldPort, { timeoutMs: 30_000, what: 'the sentinels to promote a replica' });
    expect(group.replicas.map((r) => r.port)).toContain(await group.primaryPort());
    // After the failover the same producer and worker accept and finish new work: no restart.
    const after = await eventually(() => postHttp(api, 10_000), { timeoutMs: 30_000, what: 'the producer to accept work on the new primary' });
    await h.client.waitForResult(after, { timeoutMs: 60_000 });

    // Every accepted request ends with a final row: finished by a worker, or put back by the
    // sweep and finished, or recorded as lost_in_queue. Finished jobs may already be gone from
    // Redis (removed on completion): Postgres is the record.
    const unfinished = async () => {
      const rows = await h.db.sql<{ job_id: string }[]>`select job_id from workflow_generations where status <> 'queued' and job_id in ${h.db.sql(accepted)}`;
      const done = new Set(rows.map((r) => r.job_id));
      return accepted.filter((id) => !done.has(id));
    };
    await eventually(async () => (await unfinished()).length === 0, { timeoutMs: 90_000, what: 'every accepted request to end recorded' }).catch(async (err) => {
      throw new Error(`${(err as Error).message}: silently lost so far: ${(await unfinished()).join(' ')}`);
    });
    const requeued = await h.db.sql<{ job_id: string }[]>`select distinct job_id from audit_logs where action = 'WORKFLOW_GENERATION_REQUEUED' and job_id in ${h.db.sql(accepted)}`;
    const failed = await h.db.sql<{ job_id: string }[]>`select job_id from workflow_generations where failure_reason like 'lost_in_queue:%' and job_id in ${h.db.sql(accepted)}`;
    const lostInRedis = new Set([...requeued, ...failed].map((r) => r.job_id));
    console.log(
      `sentinel failover (${mode}): ${accepted.length} accepted, ${refused} refused with 503, ${lostInRedis.size} accepted and lost in Redis: ` +
        `${requeued.length} put back by the sweep and completed, ${failed.length} recorded as lost_in_queue, 0 silent; ` +
        `202 latency median ${quantile(latencies, 0.5)} ms, p95 ${quantile(latencies, 0.95)} ms` +
        (lostInRedis.size ? ` (${[...lostInRedis].join(' ')})` : ''),
    );
    expect(accepted.length + refused).toBe(300);
    // A job whose completion the old primary took with it is active again on the new one, until
    // its lock runs out and the stalled check hands it to a worker, which finds the final row.
    const active = async () => (await Promise.all([h.rawQueue, h.fallbackQueue].map((q) => q.getJobCounts('active')))).reduce((n, c) => n + (c.active ?? 0), 0);
    await eventually(async () => (await active()) === 0, { timeoutMs: 30_000, what: 'jobs the failover left active to be taken over' });
    await expectCleanLedger(h.db, accepted, [h.rawQueue, h.fallbackQueue]);
    // Five groups run in this file: each gives its Postgres connections back when it is done.
    await close();
    await group.stop();
  }, 240_000);
});
