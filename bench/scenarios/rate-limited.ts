/**
 * Rate limited: the simulator lets the primary model take `limitPerSecond` requests a second and
 * answers the rest with 429 and retry-after; the producer offers twice that, to two worker
 * replicas. The share of primary calls answered 429 shows whether the shared pause holds every
 * replica back instead of hammering the vendor. Counted by the simulator itself.
 */
import { createBenchEnv } from '../lib/env.ts';
import { benchRequest, enqueueAtRate, jobTimings, waitForFinalRows } from '../lib/load.ts';
import { fmt, type Mode, type Scenario, target } from '../lib/scenario.ts';
import { round, summarize } from '../lib/stats.ts';

const SIZES = {
  full: { limitPerSecond: 100, ratePerSecond: 200, requests: 3_000, simulatorLatencyMs: 100, workerProcesses: 2 },
  smoke: { limitPerSecond: 10, ratePerSecond: 20, requests: 20, simulatorLatencyMs: 10, workerProcesses: 2 },
} as const;

export const rateLimited: Scenario = {
  name: 'rate-limited',
  title: 'rate limited primary',
  targetText: '429 answers ≤ 5% of primary calls',
  async run(mode: Mode, log) {
    const size = SIZES[mode];
    const env = await createBenchEnv({
      label: 'ratelimit',
      latencyMs: size.simulatorLatencyMs,
      faults: { 'gpt-4o-mini': { rateLimitPerSecond: size.limitPerSecond } },
    });
    try {
      await env.startWorkers(size.workerProcesses);
      log(`${size.requests} requests at ${size.ratePerSecond}/s to ${size.workerProcesses} workers; primary limited to ${size.limitPerSecond}/s`);
      const t0 = Date.now();
      const run = await enqueueAtRate(size.ratePerSecond, size.requests, (i) => env.client.enqueue(benchRequest(i)));
      await waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], size.requests, 300_000);
      const seconds = (Date.now() - t0) / 1000;
      const stats = env.sim.stats();
      const primary = stats.byModel['gpt-4o-mini'] ?? {};
      const primaryCalls = Object.values(primary).reduce((s, n) => s + (n ?? 0), 0);
      const rejected = primary.rate_limit ?? 0;
      const share = primaryCalls ? (rejected / primaryCalls) * 100 : Number.NaN;
      const [db] = await env.db.sql<{ succeeded: number; via_fallback: number; primary_ok: number }[]>`
        select count(*) filter (where status = 'succeeded')::int as succeeded,
               count(*) filter (where fallback_reason is not null)::int as via_fallback,
               (select count(*) from generation_attempts where role = 'primary' and outcome = 'ok')::int as primary_ok
        from workflow_generations`;
      const timings = await jobTimings(env.queue, run.ids);
      const e2e = summarize(timings.map((t) => t.finishedOn - t.enqueuedAt));
      return {
        params: { ...size },
        metrics: {
          primaryCalls,
          primary429s: rejected,
          primary429Percent: round(share, 2),
          primaryOkPerSecond: round((db?.primary_ok ?? 0) / seconds),
          handedOverToFallback: db?.via_fallback ?? 0,
          succeeded: db?.succeeded ?? 0,
          seconds: round(seconds, 1),
          primaryJobP50Ms: e2e.p50,
        },
        targets: [target('primary429Percent', '429s ≤ 5% of primary calls', share, '<=', 5)],
        summary: `${fmt(share, 2)}% of ${fmt(primaryCalls, 0)} primary calls answered 429; ${db?.via_fallback ?? 0} requests fell back`,
      };
    } finally {
      await env.close();
    }
  },
};
