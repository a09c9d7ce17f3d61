/**
 * A worker process: the two BullMQ workers (primary and fallback queues), the settings poller,
 * the metrics endpoint, and an ordered, idempotent stop.
 */
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { Queue, Worker } from 'bullmq';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { connectDatabase, type DbHandle } from '../db/client.ts';
import { AcceptedRequestStore } from '../db/accepted-requests.ts';
import { DrizzleGenerationRepository, type GenerationRepository } from '../db/generation-repository.ts';
import { retryingRepository, systemRetryClock } from '../db/retrying-repository.ts';
import { SettingsStore } from '../db/settings-store.ts';
import type { Env, WorkerConfig } from '../shared/config.ts';
import { configuredModels, type ResolvedSettings } from '../shared/settings.ts';
import { parseRequestFailure } from '../shared/failures.ts';
import { coerceError } from '../shared/errors.ts';
import { createLogger, type Logger } from '../shared/logger.ts';
import { FALLBACK_QUEUE, GENERATE_FALLBACK_JOB, PRIMARY_JOB_OPTIONS, PRIMARY_QUEUE } from '../shared/jobs.ts';
import { blockingConnection, type RedisConnection } from '../shared/redis.ts';
import { AttemptRunner, type ModelClients } from './attempt-runner.ts';
import { systemClock, type Clock } from './clock.ts';
import { createGenerationProcessor, MAX_STALLS } from './processor/executor.ts';
import { createOperationsMetrics } from './ops-metrics.ts';
import { registerOldestWaitingAge } from '../shared/queue-age.ts';
import { LostRequestSweep, queuedJobs } from './lost-request-sweep.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { createModelClients, modelsWithoutKey } from './model-clients.ts';
import { RedisModelPauses } from './model-pauses.ts';
import { RedisModelCircuit } from '../shared/model-circuit.ts';
import { RedisUnrecordedAttempts } from './unrecorded-attempts.ts';
import { PollingSettingsSource } from './settings-source.ts';

export interface WorkerRuntimeOptions {
  readonly config: WorkerConfig;
  readonly log?: Logger;
  /** Replaces the adapters built from the configuration. */
  readonly clients?: ModelClients;
  readonly clock?: Clock;
  /** Node's default process metrics; off in tests that run several runtimes in one process. */
  readonly processMetrics?: boolean;
}

export interface WorkerRuntime {
  readonly metricsUrl: string | null;
  readonly registry: Registry;
  readonly settings: PollingSettingsSource;
  readonly db: DbHandle;
  /** Stops taking jobs, lets in-flight ones finish within the grace period, aborts the rest. Idempotent. */
  close(): Promise<void>;
}

export async function startWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const { config } = options;
  const log = options.log ?? createLogger({ name: 'worker', level: config.logLevel });
  const clock = options.clock ?? systemClock;
  const db = connectDatabase(config.databaseUrl, {
    schemaName: config.databaseSchema,
    maxConnections: Math.min(20, Math.max(4, Math.ceil(config.concurrency / 10))),
    sessionSettings: config.databaseRandomPageCost === undefined ? {} : { random_page_cost: config.databaseRandomPageCost },
  });
  const redis = blockingConnection(config.redis.target);
  const prefix = config.redis.queuePrefix;
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const fallbackQueue = new Queue(FALLBACK_QUEUE, { connection: redis, prefix });
  const primaryQueue = new Queue(PRIMARY_QUEUE, { connection: redis, prefix });
  const metrics = createWorkerMetrics(registry, [primaryQueue, fallbackQueue]);
  const settings = await PollingSettingsSource.start(new SettingsStore(db.db), { intervalMs: config.settingsRefreshMs, log });
  warnAboutMissingKeys(settings.current(), config.providers.env, log);
  // The catalog lives in the database, so MODEL_TIMEOUTS_MS cannot be checked against it when the
  // environment is read: a name it does not hold is reported here instead.
  for (const id of Object.keys(config.providers.modelTimeoutsMs)) {
    if (!settings.current().catalog.has(id)) log.warn({ model: id }, `MODEL_TIMEOUTS_MS names ${id}, which is not in the model catalog`);
  }
  settings.onRefresh((s) => metrics.recordConfiguredModels(s));
  // Each model's circuit, shared by the replicas through Redis (the ladder skips an open one).
  const circuit = new RedisModelCircuit(redis, prefix, () => clock.now());
  const operations = createOperationsMetrics(registry, settings, circuit);
  registerOldestWaitingAge(registry, [primaryQueue, fallbackQueue]);
  const shutdown = new AbortController();
  const stopping = new AbortController();

  // Transient database errors are retried here, at the database port, and only here.
  const repo = retryingRepository(new DrizzleGenerationRepository(db.db, { onBatch: (write, report) => metrics.recordWriteBatch(write, report) }), {
    clock: { now: () => clock.now(), sleep: systemRetryClock.sleep }, maxWaitMs: config.databaseRetryMaxWaitMs,
    onRetry: (op, err) => log.warn({ op, err: coerceError(err).message }, 'database unreachable; retrying the write'),
  });
  const processor = createGenerationProcessor({
    attempts: new AttemptRunner({ clients: options.clients ?? createModelClients(config.providers, config.providers.env), clock, timeoutsMs: config.providers.modelTimeoutsMs }),
    settings,
    repo,
    unrecorded: new RedisUnrecordedAttempts(redis, prefix),
    pauses: new RedisModelPauses(redis, prefix),
    circuit,
    fallback: {
      async enqueue(jobId, data) {
        await fallbackQueue.add(GENERATE_FALLBACK_JOB, data, { ...PRIMARY_JOB_OPTIONS, jobId });
      },
    },
    metrics,
    clock,
    log,
    retry: { finalModelMaxAttempts: config.finalModelMaxAttempts, baseDelayMs: config.retryBaseDelayMs, maxDelayMs: config.retryMaxDelayMs },
    defaultDeadlineMs: config.requestDeadlineMs,
    shutdownSignal: shutdown.signal,
    stoppingSignal: stopping.signal,
  });

  const workerOptions = {
    prefix,
    concurrency: config.concurrency,
    // A job whose worker died is picked up by another; the processor fails it as poison after
    // MAX_STALLS, recorded, before BullMQ's own limit would fail it without a record.
    maxStalledCount: MAX_STALLS + 1,
    lockDuration: config.jobLockMs,
    stalledInterval: config.stalledIntervalMs,
  };
  const workers = [
    new Worker(PRIMARY_QUEUE, (job, token) => (operations.observePickUp(PRIMARY_QUEUE, job), processor.processPrimary(job, token)), { ...workerOptions, connection: blockingConnection(config.redis.target) }),
    new Worker(FALLBACK_QUEUE, (job, token) => (operations.observePickUp(FALLBACK_QUEUE, job), processor.processFallback(job, token)), { ...workerOptions, connection: blockingConnection(config.redis.target) }),
  ];
  for (const w of workers) {
    w.on('error', (err) => log.error({ err: err.message, queue: w.name }, 'worker error'));
    w.on('failed', (job, err) => {
      // A request that ended as the policy decided is recorded already; anything else is not.
      if (!job || parseRequestFailure(err.message)) return;
      log.error({ jobId: job.id, queue: w.name, err: err.message, attemptsMade: job.attemptsMade, final: Boolean(job.finishedOn) }, 'job failed');
      // Retries for infrastructure errors ran out: the request gets a recorded, final failure.
      if (job.finishedOn) {
        processor.recordAbandoned(job, err.message).catch((e: unknown) => log.error({ jobId: job.id, err: String(e) }, 'could not record an abandoned job'));
      }
    });
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  const sweep = config.lostRequestSweepMs > 0 ? lostRequestSweep(config, { db, repo, redis, primaryQueue, fallbackQueue, settings, metrics, clock, log }) : null;
  sweep?.start();

  const server = config.metricsPort >= 0 ? await serveMetrics(registry, config.metricsPort, config.metricsHost) : null;
  const address = server?.address() as AddressInfo | undefined;
  log.info({ concurrency: config.concurrency, metricsPort: address?.port, prefix }, 'worker started');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      settings.stop();
      stopping.abort();
      await sweep?.stop();
      const drained = Promise.all(workers.map((w) => w.close()));
      const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.shutdownGraceMs).unref());
      if ((await Promise.race([drained.then(() => 'drained' as const), grace])) === 'timeout') {
        log.warn({ graceMs: config.shutdownGraceMs }, 'grace period over: aborting in-flight model calls, their jobs go back to the queue');
        shutdown.abort();
        await drained;
      }
      await Promise.all([fallbackQueue.close(), primaryQueue.close()]);
      await Promise.all([...workers.map((w) => w.disconnect()), redis.quit().catch(() => {})]);
      await new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        // Prometheus reuses its scrape connection every scrape interval, so it never goes idle:
        // without this, close() waits for it until SIGKILL. A dropped scrape at exit is harmless.
        server.closeAllConnections();
      });
      await db.close();
      log.info('worker stopped');
    })());

  return { metricsUrl: address ? `http://${metricsHostForUrl(config.metricsHost)}:${address.port}/metrics` : null, registry, settings, db, close };
}

/** The lost-request sweep on this worker's database pool and Redis connection. */
function lostRequestSweep(
  config: WorkerConfig,
  parts: { db: DbHandle; repo: GenerationRepository; redis: RedisConnection; primaryQueue: Queue; fallbackQueue: Queue; settings: PollingSettingsSource; metrics: WorkerMetrics; clock: Clock; log: Logger },
): LostRequestSweep {
  const { primaryQueue, fallbackQueue, redis } = parts;
  return new LostRequestSweep(
    {
      store: new AcceptedRequestStore(parts.db.db),
      repo: parts.repo,
      jobs: queuedJobs(redis, primaryQueue, fallbackQueue),
      settings: parts.settings,
      onLost: (action) => parts.metrics.recordLost(action),
      clock: parts.clock,
      log: parts.log,
    },
    { intervalMs: config.lostRequestSweepMs, graceMs: config.lostRequestGraceMs, maxRequeues: config.lostRequestMaxRequeues, defaultDeadlineMs: config.requestDeadlineMs },
  );
}

/** A configured model whose key variable is unset would fail every call: say so at start-up. */
function warnAboutMissingKeys(s: ResolvedSettings, env: Env, log: Logger): void {
  const configured = configuredModels(s).map((c) => c.model);
  for (const { model, variable } of modelsWithoutKey(configured, env)) {
    log.warn({ model, variable }, `${variable} is not set: every call to the configured model ${model} will fail with auth_error`);
  }
}

async function serveMetrics(registry: Registry, port: number, host: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** Where this process reaches its own /metrics: a wildcard address is reached on loopback. */
function metricsHostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
