/**
 * Overhead: jobs per second of the full pipeline (worker → simulator with no delay → validation →
 * persistence → metrics) against a plain BullMQ worker with a no-op processor: same Redis, same
 * concurrency, one process each, a pre-filled backlog released at once, in the same run. Between
 * the two, the floor (bench/floor-worker.ts): the SDK call and one durable row per job, nothing
 * else, for what these parts allow on the machine whatever the orchestrator does.
 */
import { type CpuSample, cpuPerJob, sampleCpu, totalCpuMs } from '../lib/cpu.ts';
import { createBenchEnv, type BenchEnv, type WorkerProcess } from '../lib/env.ts';
import { jobTimings, prefill, queuesIdle, throughputOf, waitForFinalRows, waitUntil } from '../lib/load.ts';
import { fmt, type Mode, type Scenario, target } from '../lib/scenario.ts';
import { round } from '../lib/stats.ts';

const SIZES = {
  full: { jobs: 5_000, concurrency: 50 },
  smoke: { jobs: 30, concurrency: 10 },
} as const;

interface Phase {
  readonly perSecond: number;
  readonly seconds: number;
  /** CPU ms per job of the worker, this process (simulator), Redis and Postgres. */
  readonly cpu: CpuSample;
}

/** Pre-fills a paused queue, starts the worker, releases the backlog and times it. */
async function phase(env: BenchEnv, idPrefix: string, jobs: number, start: () => Promise<WorkerProcess>, done: () => Promise<void>): Promise<Phase> {
  await env.queue.pause();
  const ids = await prefill(env.queue, jobs, idPrefix);
  const worker = await start();
  const cpu0 = await sampleCpu(env.redis, [worker.pid]);
  await env.queue.resume();
  await done();
  const cpu = cpuPerJob(cpu0, await sampleCpu(env.redis, [worker.pid]), jobs);
  await worker.stop();
  const timings = await jobTimings(env.queue, ids);
  if (timings.length !== jobs) throw new Error(`${idPrefix}: ${timings.length} of ${jobs} jobs have timestamps`);
  const { perSecond, seconds } = throughputOf(timings);
  return { perSecond, seconds, cpu };
}

/** `<phase>CpuMsPerJob<Party>` for every party of a phase that calls the simulator and Postgres. */
function cpuMetrics(phase: string, cpu: CpuSample): Record<string, number> {
  return {
    [`${phase}CpuMsPerJobWorker`]: round(cpu.workersMs, 3),
    [`${phase}CpuMsPerJobSimulator`]: round(cpu.benchMs, 3),
    [`${phase}CpuMsPerJobRedis`]: round(cpu.redisMs, 3),
    [`${phase}CpuMsPerJobPostgres`]: round(cpu.postgresMs, 3),
    [`${phase}CpuMsPerJobTotal`]: round(totalCpuMs(cpu), 3),
  };
}

export const overhead: Scenario = {
  name: 'overhead',
  title: 'overhead (pipeline vs raw BullMQ)',
  targetText: 'pipeline ≥ 25% of raw BullMQ',
  async run(mode: Mode, log) {
    const size = SIZES[mode];
    const env = await createBenchEnv({ label: 'overhead', latencyMs: 0 });
    try {
      const concurrency = { WORKER_CONCURRENCY: String(size.concurrency) };
      /** A phase of one of the benchmark's own workers, done when BullMQ has completed every job. */
      const benchWorkerPhase = async (idPrefix: string, entry: string): Promise<Phase> => {
        const result = await phase(
          env,
          idPrefix,
          size.jobs,
          async () => (await env.startWorkers(1, concurrency, entry))[0]!,
          () => waitUntil(async () => (await env.queue.getCompletedCount()) >= size.jobs && (await queuesIdle([env.queue])), `the ${idPrefix} jobs`, 120_000, 20),
        );
        await env.queue.obliterate({ force: true });
        return result;
      };
      log(`raw BullMQ, no-op processor: ${size.jobs} jobs, concurrency ${size.concurrency}`);
      const raw = await benchWorkerPhase('raw', 'bench/raw-worker.ts');
      // What any pipeline must do (bench/floor-worker.ts): the SDK call and one durable row.
      log(`floor (SDK call + one durable row, nothing else): ${size.jobs} jobs, concurrency ${size.concurrency}`);
      const floor = await benchWorkerPhase('floor', 'bench/floor-worker.ts');
      log(`full pipeline: ${size.jobs} jobs, concurrency ${size.concurrency}`);
      const pipeline = await phase(
        env,
        'pipe',
        size.jobs,
        async () => (await env.startWorkers(1, concurrency))[0]!,
        () => waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], size.jobs, 300_000),
      );
      const [statuses] = await env.db.sql<{ succeeded: number }[]>`select count(*) filter (where status = 'succeeded')::int as succeeded from workflow_generations`;
      const ratioPercent = (pipeline.perSecond / raw.perSecond) * 100;
      const floorPercent = (floor.perSecond / raw.perSecond) * 100;
      return {
        params: { jobs: size.jobs, concurrency: size.concurrency, workerProcesses: 1, simulatorLatencyMs: 0 },
        metrics: {
          rawJobsPerSecond: round(raw.perSecond),
          pipelineJobsPerSecond: round(pipeline.perSecond),
          pipelinePercentOfRaw: round(ratioPercent),
          rawCpuMsPerJobWorker: round(raw.cpu.workersMs, 3),
          rawCpuMsPerJobRedis: round(raw.cpu.redisMs, 3),
          ...cpuMetrics('pipeline', pipeline.cpu),
          rawCpuMsPerJobTotal: round(totalCpuMs(raw.cpu), 3),
          floorJobsPerSecond: round(floor.perSecond),
          floorPercentOfRaw: round(floorPercent),
          pipelinePercentOfFloor: round((pipeline.perSecond / floor.perSecond) * 100),
          ...cpuMetrics('floor', floor.cpu),
          pipelineSucceeded: statuses?.succeeded ?? 0,
        },
        targets: [target('pipelinePercentOfRaw', 'pipeline ≥ 25% of raw', ratioPercent, '>=', 25)],
        summary: `pipeline ${fmt(pipeline.perSecond, 0)} jobs/s vs raw ${fmt(raw.perSecond, 0)} jobs/s = ${fmt(ratioPercent)}% (CPU per job, all processes: ${fmt(totalCpuMs(pipeline.cpu), 2)} vs ${fmt(totalCpuMs(raw.cpu), 2)} ms); floor (SDK call + one durable row, nothing else) ${fmt(floor.perSecond, 0)} jobs/s = ${fmt(floorPercent)}% of raw (${fmt(totalCpuMs(floor.cpu), 2)} ms)`,
      };
    } finally {
      await env.close();
    }
  },
};
