/**
 * The baseline of the overhead scenario: a plain BullMQ worker with a no-op processor, on the
 * same Redis, queue, connection role and concurrency as the real worker. Run as a child process
 * (`node bench/raw-worker.ts`), like worker/main.ts.
 */
import { Worker } from 'bullmq';
import { readRedisConfig } from '../shared/config.ts';
import { PRIMARY_QUEUE } from '../shared/jobs.ts';
import { blockingConnection } from '../shared/redis.ts';
import { runUntilStopped } from './lib/child-worker.ts';

const { target: url, queuePrefix } = readRedisConfig(process.env);
const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 50);
const worker = new Worker(PRIMARY_QUEUE, async () => ({ ok: true }), {
  connection: blockingConnection(url),
  prefix: queuePrefix,
  concurrency,
  maxStalledCount: 2,
});
await runUntilStopped(worker, { concurrency, prefix: queuePrefix });
