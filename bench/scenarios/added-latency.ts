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
import { createBenchEnv } from '../lib/env.js';
import { benchRequest, enqueueAtRate, jobTimings, waitForFinalRows } from '../lib/load.js';
import { fmt, type Mode, type Scenario, target } from '../lib/scenario.js';
import { round, summarize } from '../lib/stats.js';

const SIZES = {
  full: { ratePerSecond: 200, warmupRequests: 400, requests: 4_000, simulatorLatencyMs: 100 },
  smoke: { ratePerSecond: 20, warmupRequests: 5, requests: 20, simulatorLatencyMs: 10 },
} as const;

export const addedLatency: Scenario = {
  name: 'added-latency',
  title: 'added latency at a steady rate',
  targetText: 'p50 ≤ 5 ms, p99 ≤ 25 ms',
  async run(mode: Mode, log) {
    const size = SIZES[mode];
    const env = await createBenchEnv({ label: 'latency', latencyMs: size.simulatorLatencyMs });
    try {
      await env.startWorkers(1);
      const total = size.warmupRequests + size.requests;
      log(`${total} requests at ${size.ratePerSecond}/s (the first ${size.warmupRequests} are warm-up), simulator at ${size.simulatorLatencyMs} ms`);
      const run = await enqueueAtRate(size.ratePerSecond, total, (i) => env.client.enqueue(benchRequest(i)));
      await waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], total, 120_000);
      const measured = run.ids.slice(size.warmupRequests);
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
      let notSucceeded = 0;
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
      const a = summarize(added);
      const e = summarize(endToEnd);
      const w = summarize(queueWait);
      const m = summarize(callMs);
      return {
        params: { ratePerSecond: size.ratePerSecond, requests: size.requests, warmupRequests: size.warmupRequests, simulatorLatencyMs: size.simulatorLatencyMs, workerProcesses: 1, concurrency: 50 },
        metrics: {
          achievedRatePerSecond: round(run.achievedRate),
          measuredRequests: a.count,
          notSucceeded,
          addedP50Ms: a.p50,
          addedP90Ms: a.p90,
          addedP99Ms: a.p99,
          addedMaxMs: a.max,
          addedMeanMs: round(a.mean, 2),
          endToEndP50Ms: e.p50,
          endToEndP99Ms: e.p99,
          queueWaitP50Ms: w.p50,
          queueWaitP99Ms: w.p99,
          modelCallP50Ms: m.p50,
        },
        targets: [target('addedP50Ms', 'p50 ≤ 5 ms', a.p50, '<=', 5), target('addedP99Ms', 'p99 ≤ 25 ms', a.p99, '<=', 25)],
        summary: `p50 ${fmt(a.p50)} ms, p99 ${fmt(a.p99)} ms at ${fmt(run.achievedRate, 0)} req/s (end to end p50 ${fmt(e.p50)} ms with a ${size.simulatorLatencyMs} ms model)`,
      };
    } finally {
      await env.close();
    }
  },
};
