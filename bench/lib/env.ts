/**
 * One scenario's world: a Postgres schema of its own (migrated, default settings), a queue
 * prefix of its own, the simulated provider in this process, and worker processes started as
 * children exactly as production starts them: `node worker/main.ts` with the
 * environment the image gives them (the Dockerfile's ENV: NODE_ENV, and NODE_OPTIONS with V8's
 * heap cap). `close()` stops and removes all of it.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { GenerationClient } from '../../producer/client.ts';
import { FALLBACK_QUEUE, PRIMARY_QUEUE } from '../../shared/jobs.ts';
import { createTestDatabase, TEST_DATABASE_URL, TEST_REDIS_URL, type TestDatabase, uniqueName } from '../../test/helpers/database.ts';
import { heapCapMb, imageEnvironment } from '../../test/helpers/dockerfile.ts';
import { type RunningProcess, startTsProcess, waitForOutput } from '../../test/helpers/processes.ts';
import { type FaultConfig, type LatencyConfig, type Simulator, startSimulator } from '../../test/simulator/server.ts';
import { peakRssMb } from './proc.ts';

export const BENCH_REDIS_URL = TEST_REDIS_URL;
export const BENCH_DATABASE_URL = TEST_DATABASE_URL;

/** BENCH_WORKER_NODE_OPTIONS, when set: the workers then do not run exactly as the image starts them. */
export const WORKER_NODE_OPTIONS_EXTRA = process.env.BENCH_WORKER_NODE_OPTIONS?.trim() || undefined;

/**
 * What the production image sets for its processes (the Dockerfile's ENV), and so for every
 * worker process here. BENCH_WORKER_NODE_OPTIONS is appended to the image's NODE_OPTIONS (for a
 * profiler hook, or another `--max-old-space-size` to compare: the last one wins).
 */
export const IMAGE_ENV: Readonly<Record<string, string>> = (() => {
  const env = imageEnvironment('app');
  const extra = WORKER_NODE_OPTIONS_EXTRA;
  return extra ? { ...env, NODE_OPTIONS: [env.NODE_OPTIONS, extra].filter(Boolean).join(' ') } : env;
})();

/**
 * V8's heap cap in MB the workers run with: the image's, unless BENCH_WORKER_NODE_OPTIONS sets
 * another (`--max-old-space-size=0` removes it, for a comparison); null when there is none.
 */
export const WORKER_HEAP_CAP_MB: number | null = ((cap) => (cap && cap > 0 ? cap : null))(heapCapMb(IMAGE_ENV.NODE_OPTIONS));

export interface BenchEnvOptions {
  readonly label: string;
  readonly faults?: FaultConfig;
  readonly latencyMs?: LatencyConfig;
  /** Environment of every worker process, on top of the defaults below. */
  readonly workerEnv?: Record<string, string>;
}

export interface WorkerProcess {
  readonly pid: number;
  /** VmHWM: the most memory the process ever held resident. */
  peakRssMb(): number;
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 20 s. */
  stop(): Promise<void>;
}

export interface BenchEnv {
  readonly prefix: string;
  readonly db: TestDatabase;
  readonly sim: Simulator;
  /** What a worker process of this scenario runs with. */
  readonly env: Readonly<Record<string, string>>;
  readonly redis: Redis;
  readonly queue: Queue;
  readonly fallbackQueue: Queue;
  readonly client: GenerationClient;
  /** Starts `count` processes of `entry` in parallel and resolves once each logged "worker started". */
  startWorkers(count: number, overrides?: Record<string, string>, entry?: string): Promise<WorkerProcess[]>;
  close(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 90_000;

export async function createBenchEnv(options: BenchEnvOptions): Promise<BenchEnv> {
  const db = await createTestDatabase(`bench ${options.label}`);
  const sim = await startSimulator({ port: 0, seed: 42, faults: options.faults ?? {}, latencyMs: options.latencyMs ?? 0 });
  const prefix = uniqueName(`bench ${options.label}`);
  const env: Record<string, string> = {
    ...IMAGE_ENV,
    REDIS_URL: BENCH_REDIS_URL,
    DATABASE_URL: BENCH_DATABASE_URL,
    DATABASE_SCHEMA: db.schemaName,
    QUEUE_PREFIX: prefix,
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: `${sim.url}/v1`,
    ANTHROPIC_API_KEY: 'sk-ant-bench',
    ANTHROPIC_BASE_URL: sim.url,
    METRICS_PORT: '0',
    // info is the production default; the fast path logs nothing at info, so this costs nothing there.
    LOG_LEVEL: 'info',
    ...options.workerEnv,
  };
  const redis = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(PRIMARY_QUEUE, { connection: redis, prefix });
  const fallbackQueue = new Queue(FALLBACK_QUEUE, { connection: redis, prefix });
  const client = new GenerationClient({ redisUrl: BENCH_REDIS_URL, queuePrefix: prefix });
  const workers = new Set<WorkerProcess>();

  const startOne = async (entry: string, overrides: Record<string, string>): Promise<WorkerProcess> => {
    const proc: RunningProcess = startTsProcess(entry, { ...env, ...overrides });
    const pid = proc.child.pid!;
    let stopped: Promise<void> | undefined;
    const worker: WorkerProcess = {
      pid,
      peakRssMb: () => peakRssMb(pid),
      output: () => proc.output(),
      stop: () =>
        (stopped ??= (async () => {
          const killer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
          await proc.kill('SIGTERM');
          clearTimeout(killer);
          workers.delete(worker);
        })()),
    };
    workers.add(worker);
    await waitForOutput(proc, /worker started/, STARTUP_TIMEOUT_MS);
    return worker;
  };

  return {
    prefix,
    db,
    sim,
    env,
    redis,
    queue,
    fallbackQueue,
    client,
    startWorkers(count, overrides = {}, entry = 'worker/main.ts') {
      return Promise.all(Array.from({ length: count }, () => startOne(entry, overrides)));
    },
    async close() {
      await Promise.all([...workers].map((w) => w.stop()));
      await client.close();
      await queue.obliterate({ force: true }).catch(() => {});
      await fallbackQueue.obliterate({ force: true }).catch(() => {});
      await Promise.all([queue.close(), fallbackQueue.close()]);
      await redis.quit().catch(() => {});
      await sim.close();
      await db.drop();
    },
  };
}
