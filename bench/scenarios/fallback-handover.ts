/**
 * Fallback hand-over: from the moment the worker has the primary's failure in hand to the moment
 * it starts the fallback model call. Measured from the attempt rows: the failed primary
 * attempt's `finished_at` (taken when the call returned and was classified) to the fallback
 * attempt's `started_at` (taken just before the fallback call). Both come from the same clock,
 * in milliseconds. In between: the attempt and FALLBACK audit rows, the fallback job, BullMQ
 * delivering it, the fallback `begin` and the pause check.
 */
import { createBenchEnv } from '../lib/env.ts';
import { fallbackJobId } from '../../shared/jobs.ts';
import { benchRequest, enqueueAtRate, jobTimings, waitForFinalRows } from '../lib/load.ts';
import { fmt, type Mode, type Scenario, target } from '../lib/scenario.ts';
import { describeSegments, segmentMetrics, summarize, summarizeEach } from '../lib/stats.ts';

const SIZES = {
  full: { ratePerSecond: 50, requests: 600, simulatorLatencyMs: 50 },
  smoke: { ratePerSecond: 20, requests: 10, simulatorLatencyMs: 10 },
} as const;

export const fallbackHandover: Scenario = {
  name: 'fallback-handover',
  title: 'fallback hand-over',
  targetText: 'p50 ≤ 10 ms',
  async run(mode: Mode, log) {
    const size = SIZES[mode];
    // Every primary call fails: 70% with an answer that breaks the schema, 30% with a 500. Call
    // failures stay under the model circuit's threshold (half of the recent calls), so every
    // request tries the primary and is handed over, rather than skipping an open circuit.
    const env = await createBenchEnv({ label: 'handover', latencyMs: size.simulatorLatencyMs, faults: { 'gpt-4o-mini': { schema: 0.7, server_error: 0.3 } } });
    try {
      await env.startWorkers(1);
      log(`${size.requests} requests at ${size.ratePerSecond}/s, every primary call failing, both models at ${size.simulatorLatencyMs} ms`);
      const run = await enqueueAtRate(size.ratePerSecond, size.requests, (i) => env.client.enqueue(benchRequest(i)));
      await waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], size.requests, 120_000);
      const rows = await env.db.sql<{ job_id: string; reason: string; handover_ms: number; failed_at: number; fallback_started: number }[]>`
        select p.job_id, p.outcome as reason, (extract(epoch from (f.started_at - p.finished_at)) * 1000)::float8 as handover_ms,
          extract(epoch from p.finished_at)::float8 * 1000 as failed_at, extract(epoch from f.started_at)::float8 * 1000 as fallback_started
        from generation_attempts p
        join generation_attempts f on f.job_id = p.job_id and f.role = 'fallback'
          and f.attempt_number = (select min(attempt_number) from generation_attempts x where x.job_id = p.job_id and x.role = 'fallback')
        where p.role = 'primary' and p.job_id = any(${run.ids})`;
      const all = summarize(rows.map((r) => r.handover_ms));
      const validation = summarize(rows.filter((r) => r.reason === 'schema').map((r) => r.handover_ms));
      const callFailure = summarize(rows.filter((r) => r.reason !== 'schema').map((r) => r.handover_ms));
      // Where the interval goes, cut at the fallback job's BullMQ timestamps (this machine's clock):
      // the primary's failure handled and the job added; the job delivered; the fallback job's
      // pick-up, `begin` and pause check until its call starts.
      const fallbackJobs = new Map((await jobTimings(env.fallbackQueue, rows.map((r) => fallbackJobId(r.job_id)))).map((t) => [t.id, t]));
      const segments = { added: [] as number[], delivered: [] as number[], started: [] as number[] };
      for (const r of rows) {
        const job = fallbackJobs.get(fallbackJobId(r.job_id));
        if (!job) continue;
        segments.added.push(job.enqueuedAt - r.failed_at);
        segments.delivered.push(job.processedOn - job.enqueuedAt);
        segments.started.push(r.fallback_started - job.processedOn);
      }
      const bySegment = summarizeEach(segments);
      log(`where the time goes, p50/p99 ms: ${describeSegments({ added: 'failure handled and fallback job added', delivered: 'delivered', started: 'picked up to the call' }, bySegment)}`);
      return {
        params: { ratePerSecond: size.ratePerSecond, requests: size.requests, simulatorLatencyMs: size.simulatorLatencyMs, workerProcesses: 1, primaryFaults: 'schema 70%, server_error 30%' },
        metrics: {
          handovers: all.count,
          handoverP50Ms: all.p50,
          handoverP90Ms: all.p90,
          handoverP99Ms: all.p99,
          handoverMaxMs: all.max,
          // By kind of primary failure; left out when a small run had none of a kind.
          ...(validation.count ? { afterValidationFailureP50Ms: validation.p50 } : {}),
          ...(callFailure.count ? { afterCallFailureP50Ms: callFailure.p50 } : {}),
          ...segmentMetrics('segment', bySegment),
        },
        targets: [target('handoverP50Ms', 'p50 ≤ 10 ms', all.p50, '<=', 10)],
        summary: `p50 ${fmt(all.p50)} ms, p99 ${fmt(all.p99)} ms over ${all.count} hand-overs`,
      };
    } finally {
      await env.close();
    }
  },
};
