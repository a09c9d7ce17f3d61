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
import { type BenchEnv, createBenchEnv } from '../lib/env.ts';
import { benchRequest, enqueueAtRate, jobTimings, waitForFinalRows } from '../lib/load.ts';
import { fmt, type Mode, type Scenario, target } from '../lib/scenario.ts';
import { describeSegments, round, segmentMetrics, type Summary, summarize, summarizeEach } from '../lib/stats.ts';

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
  /** Where the added time goes, per request with one attempt: see SEGMENTS. */
  readonly segments: Record<Segment, Summary>;
}

/**
 * The orchestrator's share of a request, cut at the timestamps it stores: BullMQ's `timestamp`,
 * `processedOn` and `finishedOn`, the request row's `started_at` (taken just before the `begin`
 * statement) and `finished_at` (just before the result statement), the attempt's `started_at`
 * and `finished_at` (around the vendor call). All are this machine's clock.
 */
const SEGMENTS = {
  /** Enqueue → a worker asks BullMQ for the job. */
  queue: 'queue',
  /** BullMQ hands the job over, the processor starts, the contract check. */
  pickUp: 'pick-up',
  /** The `begin` statement, alongside the pause check, and the SDK starting the request. */
  begin: 'begin',
  /** The answer parsed and validated, the result row prepared. */
  validation: 'validation',
  /** The result statement (a durable commit), metrics, until BullMQ's completion. */
  result: 'result',
} as const;
type Segment = keyof typeof SEGMENTS;

/**
 * Sends `count` requests at `rate` after `warmup` more, waits until all `expectedTotal` requests
 * of the scenario have their result, and measures the `count`.
 */
async function phase(env: BenchEnv, first: number, rate: number, warmup: number, count: number, expectedTotal: number): Promise<PhaseStats> {
  const run = await enqueueAtRate(rate, warmup + count, (i) => env.client.enqueue(benchRequest(first + i)));
  await waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], expectedTotal, 300_000);
  const measured = run.ids.slice(warmup);
  const timings = await jobTimings(env.queue, measured);
  const calls = await env.db.sql<{ job_id: string; call_ms: number; status: string; attempts: number; started: number; finished: number; call_started: number; call_finished: number }[]>`
    select g.job_id, g.status, coalesce(sum(a.latency_ms), 0)::int as call_ms, count(a.*)::int as attempts,
      extract(epoch from g.started_at)::float8 * 1000 as started, extract(epoch from g.finished_at)::float8 * 1000 as finished,
      extract(epoch from min(a.started_at))::float8 * 1000 as call_started, extract(epoch from max(a.finished_at))::float8 * 1000 as call_finished
    from workflow_generations g left join generation_attempts a on a.job_id = g.job_id
    where g.job_id = any(${measured}) group by g.job_id, g.status, g.started_at, g.finished_at`;
  const byId = new Map(calls.map((c) => [c.job_id, c]));
  const added: number[] = [];
  const endToEnd: number[] = [];
  const queueWait: number[] = [];
  const callMs: number[] = [];
  const segments: Record<Segment, number[]> = { queue: [], pickUp: [], begin: [], validation: [], result: [] };
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
    if (c.attempts === 1) {
      segments.queue.push(t.processedOn - t.enqueuedAt);
      segments.pickUp.push(c.started - t.processedOn);
      segments.begin.push(c.call_started - c.started);
      segments.validation.push(c.finished - c.call_finished);
      segments.result.push(t.finishedOn - c.finished);
    }
    callMs.push(c.call_ms);
  }
  return { achievedRate: run.achievedRate, notSucceeded, added: summarize(added), endToEnd: summarize(endToEnd), queueWait: summarize(queueWait), modelCall: summarize(callMs), segments: summarizeEach(segments) };
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
      log(`where the time goes at ${size.referenceRatePerSecond} req/s, p50/p99 ms: ${describeSegments(SEGMENTS, ref.segments)}`);
      log(`${size.warmupRequests + size.requests} requests at ${size.ratePerSecond}/s (the first ${size.warmupRequests} are warm-up)`);
      const run = await phase(env, 1_000_000, size.ratePerSecond, size.warmupRequests, size.requests, refTotal + size.warmupRequests + size.requests);
      log(`where the time goes at ${size.ratePerSecond} req/s, p50/p99 ms: ${describeSegments(SEGMENTS, run.segments)}`);
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
          ...segmentMetrics('segment', run.segments),
          ...segmentMetrics('referenceSegment', ref.segments, false),
        },
        targets: [target('addedP50Ms', 'p50 ≤ 5 ms', a.p50, '<=', 5), target('addedP99Ms', 'p99 ≤ 25 ms', a.p99, '<=', 25)],
        summary: `p50 ${fmt(a.p50)} ms, p99 ${fmt(a.p99)} ms at ${fmt(run.achievedRate, 0)} req/s (at ${size.referenceRatePerSecond} req/s: p50 ${fmt(ref.added.p50)} ms, p99 ${fmt(ref.added.p99)} ms)`,
      };
    } finally {
      await env.close();
    }
  },
};
