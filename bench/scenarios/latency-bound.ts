/**
 * Latency-bound: a slow model (2 s), one worker process with a high concurrency. The worker
 * should keep every slot busy, so throughput approaches concurrency ÷ latency, in bounded memory.
 * The worker runs as the image starts it, with V8's heap capped by the image's NODE_OPTIONS (the
 * Dockerfile's ENV): without the cap it grows to ~450 MB resident, mostly garbage (docs/benchmarks.md).
 */
import os from 'node:os';
import { type CpuSample, cpuPerJob, sampleCpu, totalCpuMs } from '../lib/cpu.ts';
import { createBenchEnv, IMAGE_ENV, WORKER_HEAP_CAP_MB, WORKER_NODE_OPTIONS_EXTRA } from '../lib/env.ts';
import { jobTimings, prefill, throughputOf, waitForFinalRows } from '../lib/load.ts';
import { fmt, type Mode, type Scenario, target } from '../lib/scenario.ts';
import { round } from '../lib/stats.ts';

const SIZES = {
  full: { jobs: 10_000, concurrency: 1_000, simulatorLatencyMs: 2_000 },
  smoke: { jobs: 40, concurrency: 20, simulatorLatencyMs: 200 },
} as const;

interface Run {
  readonly perSecond: number;
  readonly seconds: number;
  readonly rssMb: number;
  readonly cpu: CpuSample;
  readonly succeeded: number;
}

/** One worker process with `concurrency` slots works through a pre-filled backlog of `jobs`. */
async function measure(size: (typeof SIZES)[Mode], label: string): Promise<Run> {
  const env = await createBenchEnv({ label, latencyMs: size.simulatorLatencyMs });
  try {
    await env.queue.pause();
    const ids = await prefill(env.queue, size.jobs, 'lb');
    const [worker] = await env.startWorkers(1, { WORKER_CONCURRENCY: String(size.concurrency) });
    const cpu0 = await sampleCpu(env.redis, [worker!.pid]);
    await env.queue.resume();
    await waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], size.jobs, 600_000);
    const cpu = cpuPerJob(cpu0, await sampleCpu(env.redis, [worker!.pid]), size.jobs);
    const rssMb = worker!.peakRssMb();
    await worker!.stop();
    const { perSecond, seconds } = throughputOf(await jobTimings(env.queue, ids), size.jobs);
    const [row] = await env.db.sql<{ succeeded: number }[]>`select count(*) filter (where status = 'succeeded')::int as succeeded from workflow_generations`;
    return { perSecond, seconds, rssMb, cpu, succeeded: row?.succeeded ?? 0 };
  } finally {
    await env.close();
  }
}

export const latencyBound: Scenario = {
  name: 'latency-bound',
  title: 'latency-bound (slow model, high concurrency)',
  targetText: 'throughput ≥ 90% of concurrency ÷ latency; peak RSS ≤ 300 MB',
  async run(mode: Mode, log) {
    const size = SIZES[mode];
    const how = WORKER_NODE_OPTIONS_EXTRA ? `NOT as in production: BENCH_WORKER_NODE_OPTIONS=${WORKER_NODE_OPTIONS_EXTRA} added` : 'started as in production';
    log(`${size.jobs} jobs, concurrency ${size.concurrency}, simulator at ${size.simulatorLatencyMs} ms; worker ${how} (NODE_OPTIONS=${IMAGE_ENV.NODE_OPTIONS ?? ''})`);
    const run = await measure(size, 'latbound');
    const { cpu, perSecond, rssMb } = run;
    const ideal = size.concurrency / (size.simulatorLatencyMs / 1000);
    const percentOfIdeal = (perSecond / ideal) * 100;
    // What the whole machine could sustain at this CPU cost per job (worker, simulator, Redis, Postgres).
    const cpuMsPerJob = totalCpuMs(cpu);
    const cpuCeiling = (os.cpus().length * 1000) / cpuMsPerJob;
    return {
      params: { jobs: size.jobs, concurrency: size.concurrency, simulatorLatencyMs: size.simulatorLatencyMs, workerProcesses: 1, heapCapMb: WORKER_HEAP_CAP_MB, workerNodeOptions: IMAGE_ENV.NODE_OPTIONS ?? '' },
      metrics: {
        jobsPerSecond: round(perSecond),
        idealJobsPerSecond: ideal,
        percentOfIdeal: round(percentOfIdeal),
        seconds: round(run.seconds, 2),
        peakRssMb: round(rssMb),
        workerCpuPercent: round(((cpu.workersMs * size.jobs) / 1000 / run.seconds) * 100),
        cpuMsPerJobWorker: round(cpu.workersMs, 3),
        cpuMsPerJobSimulator: round(cpu.benchMs, 3),
        cpuMsPerJobRedis: round(cpu.redisMs, 3),
        cpuMsPerJobPostgres: round(cpu.postgresMs, 3),
        cpuBoundCeilingJobsPerSecond: round(cpuCeiling),
        succeeded: run.succeeded,
      },
      targets: [target('percentOfIdeal', 'throughput ≥ 90% of ideal', percentOfIdeal, '>=', 90), target('peakRssMb', 'peak RSS ≤ 300 MB', rssMb, '<=', 300)],
      summary: `${fmt(perSecond, 0)} jobs/s = ${fmt(percentOfIdeal)}% of ${fmt(ideal, 0)} (CPU allows ≈ ${fmt(cpuCeiling, 0)}); peak RSS ${fmt(rssMb, 0)} MB, ${WORKER_HEAP_CAP_MB === null ? 'no heap cap' : `${fmt(WORKER_HEAP_CAP_MB, 0)} MB heap cap`}${WORKER_NODE_OPTIONS_EXTRA ? ` (BENCH_WORKER_NODE_OPTIONS=${WORKER_NODE_OPTIONS_EXTRA})` : ' (the image\'s)'}`,
    };
  },
};
