/**
 * Scale-out: the same backlog with 1, 2 and 4 worker processes, the simulator at 200 ms. Each
 * process runs the default concurrency, so the latency-bound ceiling is
 * processes × concurrency ÷ 0.2 s; the CPU count of the machine caps what extra processes add.
 */
import os from 'node:os';
import { cpuPerJob, sampleCpu, totalCpuMs } from '../lib/cpu.ts';
import { createBenchEnv } from '../lib/env.ts';
import { jobTimings, prefill, throughputOf, waitForFinalRows } from '../lib/load.ts';
import { fmt, type Mode, type Scenario } from '../lib/scenario.ts';
import { round } from '../lib/stats.ts';

const SIZES = {
  full: { processes: [1, 2, 4], jobs: 4_000, concurrency: 50, simulatorLatencyMs: 200 },
  smoke: { processes: [1, 2], jobs: 20, concurrency: 10, simulatorLatencyMs: 20 },
} as const;

const signed = (n: number) => `${n >= 0 ? '+' : '−'}${fmt(Math.abs(n), 0)}`;

export const scaleOut: Scenario = {
  name: 'scale-out',
  title: 'scale-out (1, 2, 4 worker processes)',
  targetText: 'throughput per added process (CPU count stated)',
  async run(mode: Mode, log) {
    const size = SIZES[mode];
    const metrics: Record<string, number> = {};
    const steps: { processes: number; perSecond: number }[] = [];
    for (const n of size.processes) {
      const env = await createBenchEnv({ label: `scale${n}`, latencyMs: size.simulatorLatencyMs });
      try {
        await env.queue.pause();
        const ids = await prefill(env.queue, size.jobs, `so${n}`);
        const workers = await env.startWorkers(n, { WORKER_CONCURRENCY: String(size.concurrency) });
        const pids = workers.map((w) => w.pid);
        const cpu0 = await sampleCpu(env.redis, pids);
        log(`${n} process(es): ${size.jobs} jobs, concurrency ${size.concurrency} each, simulator at ${size.simulatorLatencyMs} ms`);
        await env.queue.resume();
        await waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], size.jobs, 300_000);
        const cpu = cpuPerJob(cpu0, await sampleCpu(env.redis, pids), size.jobs);
        await Promise.all(workers.map((w) => w.stop()));
        const { perSecond, seconds } = throughputOf(await jobTimings(env.queue, ids), size.jobs);
        steps.push({ processes: n, perSecond });
        metrics[`jobsPerSecond_${n}`] = round(perSecond);
        metrics[`ceilingJobsPerSecond_${n}`] = (n * size.concurrency) / (size.simulatorLatencyMs / 1000);
        // CPU of all worker processes together, in % of one core; and the whole machine's CPU per job.
        metrics[`workerCpuPercent_${n}`] = round(((cpu.workersMs * size.jobs) / 1000 / seconds) * 100);
        metrics[`cpuMsPerJobAll_${n}`] = round(totalCpuMs(cpu), 3);
      } finally {
        await env.close();
      }
    }
    const base = steps[0]!;
    for (const s of steps.slice(1)) metrics[`addedPerProcess_${s.processes}`] = round((s.perSecond - base.perSecond) / (s.processes - base.processes));
    metrics.cores = os.cpus().length;
    return {
      params: { ...size, processes: [...size.processes], cores: os.cpus().length },
      metrics,
      targets: [],
      summary: `${steps.map((s) => `${s.processes}p ${fmt(s.perSecond, 0)}/s`).join(', ')} on ${os.cpus().length} cores; per added process: ${steps
        .slice(1)
        .map((s) => signed(metrics[`addedPerProcess_${s.processes}`]!))
        .join(', ')} jobs/s`,
    };
  },
};
