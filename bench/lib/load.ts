/**
 * Load shapes and their measurement: pre-filled queues, a steady request rate, waiting for the
 * last result, and the per-job timestamps BullMQ keeps (enqueued, picked up, finished).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type postgres from 'postgres';
import { GENERATE_JOB, type GenerationRequest, PRIMARY_JOB_OPTIONS } from '../../shared/jobs.ts';
import { sampleRequestParts } from '../../test/helpers/sample-requests.ts';

/** A realistic request, different for each `i`. */
export function benchRequest(i: number): GenerationRequest {
  const { userGoal, availablePlugins } = sampleRequestParts(i);
  return { userId: `bench-user-${i % 97}`, agentId: `bench-agent-${i}`, userGoal: `${userGoal} (#${i})`, availablePlugins };
}

/** Adds `count` jobs with ids `<idPrefix>-<i>`, in bulk, as a backlog the workers find waiting. */
export async function prefill(queue: Queue, count: number, idPrefix: string, data: (i: number) => unknown = benchRequest): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${idPrefix}-${i}`);
  for (let start = 0; start < count; start += 1_000) {
    await queue.addBulk(ids.slice(start, start + 1_000).map((jobId, k) => ({ name: GENERATE_JOB, data: data(start + k), opts: { ...PRIMARY_JOB_OPTIONS, jobId } })));
  }
  return ids;
}

export interface RateRun {
  readonly ids: string[];
  /** Requests actually sent per second, from the first to the last send. */
  readonly achievedRate: number;
  readonly seconds: number;
}

/** Sends `count` requests at a steady `ratePerSecond` (scheduled on absolute time, so no drift). */
export async function enqueueAtRate(ratePerSecond: number, count: number, enqueue: (i: number) => Promise<string>): Promise<RateRun> {
  const ids: string[] = new Array<string>(count);
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  let sent = 0;
  let lastSendAt = t0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - t0) * ratePerSecond) / 1000) + 1);
    while (sent < due) {
      const i = sent++;
      lastSendAt = performance.now();
      pending.push(enqueue(i).then((id) => void (ids[i] = id)));
    }
    if (sent < count) await sleep(Math.max(0, (sent * 1000) / ratePerSecond - (performance.now() - t0)));
  }
  await Promise.all(pending);
  const seconds = (lastSendAt - t0) / 1000;
  return { ids, seconds, achievedRate: count > 1 && seconds > 0 ? (count - 1) / seconds : count };
}

/** Polls `check` until it returns true; throws after the deadline with `what` in the message. */
export async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs: number, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Every job of the queues is finished: nothing waiting, active, delayed or prioritized. */
export async function queuesIdle(queues: readonly Queue[]): Promise<boolean> {
  for (const q of queues) {
    const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
    if ((c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0) > 0) return false;
  }
  return true;
}

/** Waits until `count` requests have their final row and every queue is idle. */
export async function waitForFinalRows(sql: postgres.Sql, queues: readonly Queue[], count: number, timeoutMs: number): Promise<void> {
  await waitUntil(
    // Redis first: while jobs are in the queues, the count (a scan of the whole table) would
    // compete with the run for Postgres' CPU every 50 ms.
    async () => {
      if (!(await queuesIdle(queues))) return false;
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from workflow_generations where status <> 'queued'`;
      return (row?.n ?? 0) >= count;
    },
    `${count} final results`,
    timeoutMs,
  );
}

export interface JobTiming {
  readonly id: string;
  /** When the producer added the job (ms since epoch, producer clock). */
  readonly enqueuedAt: number;
  /** When a worker took it (ms, worker clock). */
  readonly processedOn: number;
  /** When the worker completed it, after the processor returned (ms, worker clock). */
  readonly finishedOn: number;
}

/** BullMQ's own timestamps of the given jobs, in one pipelined round trip per 1,000 jobs. */
export async function jobTimings(queue: Queue, ids: readonly string[]): Promise<JobTiming[]> {
  const client = (await queue.client) as unknown as Redis;
  const out: JobTiming[] = [];
  for (let start = 0; start < ids.length; start += 1_000) {
    const chunk = ids.slice(start, start + 1_000);
    const pipeline = client.pipeline();
    for (const id of chunk) pipeline.hmget(queue.toKey(id), 'timestamp', 'processedOn', 'finishedOn');
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([err, value], k) => {
      const [timestamp, processedOn, finishedOn] = (value as (string | null)[] | null) ?? [];
      if (!err && timestamp && processedOn && finishedOn) out.push({ id: chunk[k]!, enqueuedAt: Number(timestamp), processedOn: Number(processedOn), finishedOn: Number(finishedOn) });
    });
  }
  return out;
}

/** Jobs per second between the first pick-up and the last completion. */
export function throughputOf(timings: readonly JobTiming[], count = timings.length): { perSecond: number; seconds: number } {
  if (timings.length === 0) return { perSecond: Number.NaN, seconds: Number.NaN };
  let first = Infinity;
  let last = -Infinity;
  for (const t of timings) {
    first = Math.min(first, t.processedOn);
    last = Math.max(last, t.finishedOn);
  }
  const seconds = Math.max(0.001, (last - first) / 1000);
  return { perSecond: count / seconds, seconds };
}
