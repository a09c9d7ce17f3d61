/**
 * Latency-bound: a slow model (2 s), one worker process with a high concurrency. The worker
 * should keep every slot busy, so throughput approaches concurrency ÷ latency, in bounded memory.
 */
import os from 'node:os';
import { cpuPerJob, sampleCpu } from '../lib/cpu.js';
import { createBenchEnv } from '../lib/env.js';
import { jobTimings, prefill, throughputOf, waitForFinalRows } from '../lib/load.js';
import { fmt, type Mode, type Scenario, target } from '../lib/scenario.js';
import { round } from '../lib/stats.js';

const SIZES = {
  full: { jobs: 10_000, concurrency: 1_000, simulatorLatencyMs: 2_000 },
  smoke: { jobs: 40, concurrency: 20, simulatorLatencyMs: 200 },
} as const;

export const latencyBound: Scenario = {
  name: 'latency-bound',
  title: 'latency-bound (slow model, high concurrency)',
  targetText: 'throughput ≥ 90% of concurrency ÷ latency; peak RSS ≤ 300 MB',
  async run(mode: Mode, log) {
    const size = SIZES[mode];
    const env = await createBenchEnv({ label: 'latbound', latencyMs: size.simulatorLatencyMs });
    try {
      await env.queue.pause();
      const ids = await prefill(env.queue, size.jobs, 'lb');
      const [worker] = await env.startWorkers(1, { WORKER_CONCURRENCY: String(size.concurrency) });
      const cpu0 = await sampleCpu(env.redis, [worker!.pid]);
      log(`${size.jobs} jobs, concurrency ${size.concurrency}, simulator at ${size.simulatorLatencyMs} ms`);
      await env.queue.resume();
      await waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], size.jobs, 600_000);
      const cpu = cpuPerJob(cpu0, await sampleCpu(env.redis, [worker!.pid]), size.jobs);
      const rssMb = worker!.peakRssMb();
      await worker!.stop();
      const timings = await jobTimings(env.queue, ids);
      const { perSecond, seconds } = throughputOf(timings, size.jobs);
      const ideal = size.concurrency / (size.simulatorLatencyMs / 1000);
      const percentOfIdeal = (perSecond / ideal) * 100;
      // What the whole machine could sustain at this CPU cost per job (worker, simulator, Redis, Postgres).
      const cpuMsPerJob = cpu.workersMs + cpu.benchMs + cpu.redisMs + cpu.postgresMs;
      const cpuCeiling = (os.cpus().length * 1000) / cpuMsPerJob;
      const [row] = await env.db.sql<{ succeeded: number }[]>`select count(*) filter (where status = 'succeeded')::int as succeeded from workflow_generations`;
      return {
        params: { jobs: size.jobs, concurrency: size.concurrency, simulatorLatencyMs: size.simulatorLatencyMs, workerProcesses: 1 },
        metrics: {
          jobsPerSecond: round(perSecond),
          idealJobsPerSecond: ideal,
          percentOfIdeal: round(percentOfIdeal),
          seconds: round(seconds, 2),
          peakRssMb: round(rssMb),
          workerCpuPercent: round(((cpu.workersMs * size.jobs) / 1000 / seconds) * 100),
          cpuMsPerJobWorker: round(cpu.workersMs, 3),
          cpuMsPerJobSimulator: round(cpu.benchMs, 3),
          cpuMsPerJobRedis: round(cpu.redisMs, 3),
          cpuMsPerJobPostgres: round(cpu.postgresMs, 3),
          cpuBoundCeilingJobsPerSecond: round(cpuCeiling),
          succeeded: row?.succeeded ?? 0,
        },
        targets: [target('percentOfIdeal', 'throughput ≥ 90% of ideal', percentOfIdeal, '>=', 90), target('peakRssMb', 'peak RSS ≤ 300 MB', rssMb, '<=', 300)],
        summary: `${fmt(perSecond, 0)} jobs/s = ${fmt(percentOfIdeal)}% of ${fmt(ideal, 0)} (CPU allows ≈ ${fmt(cpuCeiling, 0)}); peak RSS ${fmt(rssMb, 0)} MB`,
      };
    } finally {
      await env.close();
    }
  },
};
