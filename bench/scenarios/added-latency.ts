/**
 * Added latency: enqueue → result committed, minus the model call, at a steady request rate.
 *
 * - enqueue: the job's `timestamp`, set by the producer library when it adds the job.
 * - result committed: the job's `finishedOn`, set by the worker when the processor has returned,
 *   i.e. after the result transaction committed (the row's `finished_at` is taken just before the
 *   transaction, so it would hide the commit).
 * - the model call: `generation_attempts.latency_ms`, the worker's own measure of the vendor call
 *   (SDK request, HTTP round trip to the simulator, simulator delay, response parsing).
 *
 * What is left is the orchestrator's own share: queue hand-off, contract check, settings, the
 * `begin` row, validation, the result transaction, metrics and BullMQ's completion.
 */
import { type BenchEnv, createBenchEnv } from '../lib/env.js';
import { benchRequest, enqueueAtRate, jobTimings, waitForFinalRows } from '../lib/load.js';
import { fmt, type Mode, type Scenario, target } from '../lib/scenario.js';
import { round, type Summary, summarize } from '../lib/stats.js';

const SIZES = {
  full: { ratePerSecond: 200, warmupRequests: 400, requests: 4_000, referenceRatePerSecond: 20, referenceRequests: 300, simulatorLatencyMs: 100 },
  smoke: { ratePerSecond: 20, warmupRequests: 5, requests: 20, referenceRatePerSecond: 10, referenceRequests: 5, simulatorLatencyMs: 10 },
} as const;

interface PhaseStats {
  readonly achievedRate: number;
  readonly notSucceeded: number;
  readonly added: Summary;
  readonly endToEnd: Summary;
  readonly queueWait: Summary;
  readonly modelCall: Summary;
}

/**
 * Sends `count` requests at `rate` after `warmup` more, waits until all `expectedTotal` requests
 * of the scenario have their result, and measures the `count`.
 */
async function phase(env: BenchEnv, first: number, rate: number, warmup: number, count: number, expectedTotal: number): Promise<PhaseStats> {
  const run = await enqueueAtRate(rate, warmup + count, (i) => env.client.enqueue(benchRequest(first + i)));
  await waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], expectedTotal, 300_000);
  const measured = run.ids.slice(warmup);
  const timings = await jobTimings(env.queue, measured);
  const calls = await env.db.sql<{ job_id: string; call_ms: number; status: string }[]>`
    select g.job_id, g.status, coalesce(sum(a.latency_ms), 0)::int as call_ms
    from workflow_generations g left join generation_attempts a on a.job_id = g.job_id
    where g.job_id = any(${measured}) group by g.job_id, g.status`;
  const byId = new Map(calls.map((c) => [c.job_id, c]));
  const added: number[] = [];
  const endToEnd: number[] = [];
  const queueWait: number[] = [];
  const callMs: number[] = [];
  let notSucceeded = measured.length - timings.length;
  for (const t of timings) {
    const c = byId.get(t.id);
    if (!c || c.status !== 'succeeded') {
      notSucceeded++;
      continue;
    }
    endToEnd.push(t.finishedOn - t.enqueuedAt);
    added.push(t.finishedOn - t.enqueuedAt - c.call_ms);
    queueWait.push(t.processedOn - t.enqueuedAt);
    callMs.push(c.call_ms);
  }
  return { achievedRate: run.achievedRate, notSucceeded, added: summarize(added), endToEnd: summarize(endToEnd), queueWait: summarize(queueWait), modelCall: summarize(callMs) };
}

export const addedLatency: Scenario = {
  name: 'added-latency',
  title: 'added latency at a steady rate',
  targetText: 'p50 ≤ 5 ms, p99 ≤ 25 ms',
  async run(mode: Mode, log) {
    const size = SIZES[mode];
    const env = await createBenchEnv({ label: 'latency', latencyMs: size.simulatorLatencyMs });
    try {
      await env.startWorkers(1, { WORKER_CONCURRENCY: '50' });
      // A light load first: what the pipeline adds when the machine has CPU to spare.
      log(`reference: ${size.referenceRequests} requests at ${size.referenceRatePerSecond}/s, simulator at ${size.simulatorLatencyMs} ms`);
      const refWarmup = Math.min(20, size.referenceRequests);
      const refTotal = refWarmup + size.referenceRequests;
      const ref = await phase(env, 0, size.referenceRatePerSecond, refWarmup, size.referenceRequests, refTotal);
      log(`${size.warmupRequests + size.requests} requests at ${size.ratePerSecond}/s (the first ${size.warmupRequests} are warm-up)`);
      const run = await phase(env, 1_000_000, size.ratePerSecond, size.warmupRequests, size.requests, refTotal + size.warmupRequests + size.requests);
      const a = run.added;
      return {
        params: {
          ratePerSecond: size.ratePerSecond,
          requests: size.requests,
          warmupRequests: size.warmupRequests,
          referenceRatePerSecond: size.referenceRatePerSecond,
          referenceRequests: size.referenceRequests,
          simulatorLatencyMs: size.simulatorLatencyMs,
          workerProcesses: 1,
          concurrency: 50,
        },
        metrics: {
          achievedRatePerSecond: round(run.achievedRate),
          measuredRequests: a.count,
          notSucceeded: run.notSucceeded + ref.notSucceeded,
          addedP50Ms: a.p50,
          addedP90Ms: a.p90,
          addedP99Ms: a.p99,
          addedMaxMs: a.max,
          addedMeanMs: round(a.mean, 2),
          endToEndP50Ms: run.endToEnd.p50,
          endToEndP99Ms: run.endToEnd.p99,
          queueWaitP50Ms: run.queueWait.p50,
          queueWaitP99Ms: run.queueWait.p99,
          modelCallP50Ms: run.modelCall.p50,
          referenceAddedP50Ms: ref.added.p50,
          referenceAddedP99Ms: ref.added.p99,
          referenceQueueWaitP50Ms: ref.queueWait.p50,
        },
        targets: [target('addedP50Ms', 'p50 ≤ 5 ms', a.p50, '<=', 5), target('addedP99Ms', 'p99 ≤ 25 ms', a.p99, '<=', 25)],
        summary: `p50 ${fmt(a.p50)} ms, p99 ${fmt(a.p99)} ms at ${fmt(run.achievedRate, 0)} req/s (at ${size.referenceRatePerSecond} req/s: p50 ${fmt(ref.added.p50)} ms, p99 ${fmt(ref.added.p99)} ms)`,
      };
    } finally {
      await env.close();
    }
  },
};
