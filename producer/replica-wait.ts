/**
 * ENQUEUE_WAIT_REPLICAS: after the job is added, Redis `WAIT n timeout` holds the 202 until n
 * replicas have acknowledged every write this connection made so far (the add included), so a
 * failover right after the answer does not lose the job. It makes the enqueue no more accepted
 * or refused than before: the job is on the primary and its row in Postgres either way, and a job
 * a failover does lose is found by the lost-request sweep. What it buys is fewer recoveries
 * (each waits out the sweep's grace period); what it costs is a replica round trip per enqueue,
 * and up to the timeout per enqueue while no replica answers. Measured in docs/redis.md.
 */
import type { Logger } from '../shared/logger.ts';
import type { RedisConnection } from '../shared/redis.ts';
import type { ReplicaWaitOutcome } from './metrics.ts';

export function replicaWaiter(redis: RedisConnection, replicas: number, timeoutMs: number, count: (o: ReplicaWaitOutcome) => void, log: Logger): () => Promise<void> {
  let lastWarned = 0;
  const warn = (detail: Record<string, unknown>) => {
    if (Date.now() - lastWarned < 30_000) return;
    lastWarned = Date.now();
    log.warn({ replicas, timeoutMs, ...detail }, 'an enqueued job was not confirmed on the replicas in time (the lost-request sweep covers it)');
  };
  return async () => {
    try {
      const acked = Number(await redis.call('WAIT', String(replicas), String(timeoutMs)));
      if (acked >= replicas) return count('replicated');
      count('short');
      warn({ acked });
    } catch (err) {
      count('error');
      warn({ err: err instanceof Error ? err.message : String(err) });
    }
  };
}
