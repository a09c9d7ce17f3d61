/**
 * Everything a pipeline test needs, on real services: a schema of its own, a queue prefix of its
 * own, the simulated provider on a free port, and workers built from the same code as production.
 */
import { Queue } from 'bullmq';
import { GenerationClient } from '../../producer/client.ts';
import { type Env, readRedisConfig, readWorkerConfig, type WorkerConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { FALLBACK_QUEUE, PRIMARY_QUEUE } from '../../shared/jobs.ts';
import { blockingConnection, type RedisConnection } from '../../shared/redis.ts';
import { startWorkerRuntime, type WorkerRuntime } from '../../worker/runtime.ts';
import { startSimulator, type Simulator } from '../simulator/server.ts';
import type { FaultConfig } from '../simulator/faults.ts';
import { createTestDatabase, TEST_DATABASE_URL, TEST_REDIS_URL, type TestDatabase, uniqueName } from './database.ts';

export interface Harness {
  readonly db: TestDatabase;
  readonly sim: Simulator;
  readonly prefix: string;
  readonly client: GenerationClient;
  readonly redis: RedisConnection;
  /** A plain BullMQ queue on the primary queue, as a service in another language would use. */
  readonly rawQueue: Queue;
  readonly fallbackQueue: Queue;
  /** The environment a worker process of this harness runs with. */
  readonly env: Record<string, string>;
  startWorker(overrides?: Record<string, string>): Promise<WorkerRuntime>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly faults?: FaultConfig;
  /** Redis for everything in the harness (default: the machine's). */
  readonly redisUrl?: string;
  /** Redis in any mode, as the services read it (REDIS_SENTINELS, REDIS_CLUSTER_NODES, ...); replaces redisUrl. */
  readonly redisEnv?: Record<string, string>;
  /** The queue prefix (default: a unique one); Cluster tests wrap it in a hash tag. */
  readonly prefix?: (unique: string) => string;
  readonly env?: Record<string, string>;
}

export async function startHarness(label: string, options: HarnessOptions = {}): Promise<Harness> {
  const db = await createTestDatabase(label);
  const sim = await startSimulator({ port: 0, seed: 42, faults: options.faults ?? {} });
  const prefix = (options.prefix ?? ((u: string) => u))(uniqueName(label));
  const redisUrl = options.redisUrl ?? TEST_REDIS_URL;
  const env: Record<string, string> = {
    ...(options.redisEnv ?? { REDIS_URL: redisUrl }),
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: db.schemaName,
    QUEUE_PREFIX: prefix,
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: `${sim.url}/v1`,
    ANTHROPIC_API_KEY: 'sk-ant-test',
    ANTHROPIC_BASE_URL: sim.url,
    METRICS_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SETTINGS_REFRESH_MS: '100',
    RETRY_BASE_DELAY_MS: '20',
    // Tests that force a fault on every call of a request expect it to end after three tries,
    // not at its deadline; the deadline tests lift the cap.
    FINAL_MODEL_MAX_ATTEMPTS: '3',
    SHUTDOWN_GRACE_MS: '2000',
    MODEL_TIMEOUTS_MS: 'gpt-4o-mini=1500,claude-sonnet-4-6=1500',
    ...options.env,
  };
  // Quiet while fault tests stop Redis on purpose: commands report the errors that matter.
  const target = readRedisConfig(env).target;
  const redis = blockingConnection(target);
  const client = new GenerationClient({ redis: target, queuePrefix: prefix });
  // One node: BullMQ builds (and closes) the queues' connections from plain options, as a
  // service that is not this project would; other modes need the project's factory.
  const queueConnections = target.mode === 'single' ? [] : [blockingConnection(target), blockingConnection(target)];
  const rawQueue = new Queue(PRIMARY_QUEUE, { connection: queueConnections[0] ?? redisOptions(redisUrl), prefix });
  const fallbackQueue = new Queue(FALLBACK_QUEUE, { connection: queueConnections[1] ?? redisOptions(redisUrl), prefix });
  const runtimes: WorkerRuntime[] = [];

  return {
    db,
    sim,
    prefix,
    client,
    redis,
    rawQueue,
    fallbackQueue,
    env,
    async startWorker(overrides = {}) {
      const config: WorkerConfig = readWorkerConfig({ ...env, ...overrides } as Env);
      const runtime = await startWorkerRuntime({ config, log: createLogger({ name: 'worker', level: config.logLevel }), processMetrics: false });
      runtimes.push(runtime);
      return runtime;
    },
    async close() {
      await Promise.all(runtimes.map((r) => r.close()));
      await client.close();
      await rawQueue.obliterate({ force: true }).catch(() => {});
      await fallbackQueue.obliterate({ force: true }).catch(() => {});
      await Promise.all([rawQueue.close(), fallbackQueue.close()]);
      await Promise.all([redis, ...queueConnections].map((c) => c.quit().catch(() => {})));
      await sim.close();
      await db.drop();
    },
  };
}

/** ioredis options for a URL, for BullMQ classes that build their own connection. */
export function redisOptions(url: string): { host: string; port: number; password?: string; db?: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), ...(u.password ? { password: decodeURIComponent(u.password) } : {}), ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}) };
}

/** Polls until `check` returns a value, or fails after the deadline: for state with no event. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, options: { timeoutMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let delay = 10;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'condition'}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(200, delay * 2);
  }
}

export function goal(text: string, ...directives: string[]): string {
  return `${text} ${directives.map((d) => `[sim:${d}]`).join(' ')}`.trim();
}

export const PLUGINS = ['google-mail', 'slack', { key: 'google-sheets', actions: ['read_rows', 'append_row'] }];
