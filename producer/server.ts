/**
 * The producer service: HTTP API for other services, admin API and console, bull-board, docs,
 * health and metrics. `buildProducerServer` wires it (tests start it in-process on port 0);
 * `close()` stops it in order: refuse new work, end event streams, drain requests, close
 * queues, Redis and Postgres. Redis may be down at start: the service starts, answers 503 on
 * what needs Redis, and recovers when Redis is back.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { RedisConnection } from '../shared/redis.ts';
import { connectDatabase, type DbHandle } from '../db/client.ts';
import { AcceptedRequestStore } from '../db/accepted-requests.ts';
import { SettingsStore } from '../db/settings-store.ts';
import { ajv, toFieldErrors } from '../shared/ajv.ts';
import { coerceError, InvalidRequestError } from '../shared/errors.ts';
import { generationRequestSchema } from '../shared/jobs.ts';
import { createLogger, type Logger } from '../shared/logger.ts';
import type { ProducerConfig } from '../shared/producer-config.ts';
import { producerConnection } from '../shared/redis.ts';
import { Authenticator } from './auth.ts';
import { GenerationClient } from './client.ts';
import { ApiError, registerErrorHandling } from './errors.ts';
import { type EventStream, GenerationEventHub } from './events.ts';
import { GenerationStatusReader } from './generation-status.ts';
import { replicaWaiter } from './replica-wait.ts';
import { createProducerMetrics, instrumentHttp } from './metrics.ts';
import { registerDocsUi, registerOpenApi } from './openapi.ts';
import { registerOldestWaitingAge } from '../shared/queue-age.ts';
import { RedisRateLimiter } from './rate-limit.ts';
import { adminApiRoutes, adminPageRoutes } from './routes/admin.ts';
import { RedisModelCircuit } from '../shared/model-circuit.ts';
import { RedisAdminSessions } from './admin-sessions.ts';
import { IdempotencyClaims } from './idempotency.ts';
import { LoginBackoff } from './login-backoff.ts';
import { generationRoutes } from './routes/generations.ts';
import { generationsLogRoutes } from './routes/generations-log.ts';
import { requestPageRoutes } from './routes/request-pages.ts';
import { settingsHistoryRoutes } from './routes/settings-history.ts';
import { insightRoutes } from './routes/insights.ts';
import { healthRoutes } from './routes/health.ts';
import { queueBoardRoutes } from './routes/queues.ts';

/** Request bodies larger than this get 413. */
export const BODY_LIMIT_BYTES = 64 * 1024;

export interface ProducerServerOptions {
  readonly config: ProducerConfig;
  readonly log?: Logger;
  /** Node's default process metrics; off in tests that run several producers in one process. @defaultValue true */
  readonly processMetrics?: boolean;
}

export interface ProducerServer {
  readonly app: FastifyInstance;
  readonly db: DbHandle;
  readonly client: GenerationClient;
  /** Idempotent, ordered stop. */
  close(): Promise<void>;
}

export interface RunningProducer extends ProducerServer {
  /** Base URL, such as http://127.0.0.1:3000. */
  readonly url: string;
}

/**
 * Compiles request schemas with the worker's own Ajv instance: the job contract is checked by the
 * very validator the worker uses, with the same field-level error details.
 */
function sharedValidatorCompiler({ schema, httpPart }: { schema: Record<string, unknown>; httpPart?: string }) {
  const id = typeof schema.$id === 'string' ? schema.$id : undefined;
  const validate = (id && ajv.getSchema(id)) || ajv.compile(schema);
  const isContract = id === generationRequestSchema.$id;
  return (data: unknown) => {
    if (validate(data)) return { value: data };
    const errors = toFieldErrors(validate.errors);
    const details = errors.length > 0 ? errors : [{ path: '', code: 'type', message: 'is invalid' }];
    if (isContract) return { error: new InvalidRequestError(details) };
    const part = httpPart === 'body' ? 'request body' : httpPart === 'querystring' ? 'query string' : (httpPart ?? 'request');
    return { error: new ApiError(400, 'INVALID_REQUEST', `invalid ${part}: ${details.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`, details) };
  };
}

export async function buildProducerServer(options: ProducerServerOptions): Promise<ProducerServer> {
  const { config } = options;
  const log = options.log ?? createLogger({ name: 'producer', level: config.logLevel });

  const redis = producerConnection(config.redis.target);
  let lastRedisError = 0;
  redis.on('error', (err) => {
    if (Date.now() - lastRedisError > 30_000) {
      lastRedisError = Date.now();
      log.warn({ err: coerceError(err).message }, 'Redis connection error (requests that need Redis get 503 until it is back)');
    }
  });
  const db = connectDatabase(config.databaseUrl, { schemaName: config.databaseSchema, maxConnections: 10 });
  const client = new GenerationClient({ redis: config.redis.target, queuePrefix: config.redis.queuePrefix, connection: redis });
  const queues = client.queues;
  for (const q of [queues.primary, queues.fallback]) q.on('error', () => {});
  const hub = new GenerationEventHub({ redis: config.redis.target, prefix: config.redis.queuePrefix, log });
  const status = new GenerationStatusReader(db.db, queues.primary, queues.fallback);
  const settings = new SettingsStore(db.db);
  const prefix = config.redis.queuePrefix;
  const auth = new Authenticator({
    apiTokens: config.apiTokens,
    admins: config.admins,
    authDisabled: config.authDisabled,
    sessionTtlS: config.adminSessionTtlS,
    sessions: new RedisAdminSessions(redis, prefix),
  });
  const enqueueLimiter = new RedisRateLimiter({ redis, prefix, name: 'enqueue', limit: config.enqueueRateLimitPerMinute, windowMs: 60_000 });
  const loginBackoff = new LoginBackoff({ redis, prefix, freeFailures: config.loginFreeFailures, maxDelayMs: config.loginBackoffMaxMs });
  const metrics = createProducerMetrics({ queues: [queues.primary, queues.fallback], processMetrics: options.processMetrics ?? true });
  registerOldestWaitingAge(metrics.registry, [queues.primary, queues.fallback]);
  const streams = new Set<EventStream>();
  let shuttingDown = false;

  /** Closes what this function opened, in order: event readers, queues, Redis, Postgres. */
  const closeResources = async () => {
    await hub.close();
    await client.close();
    await redis.quit().catch(() => redis.disconnect());
    await db.close();
  };

  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance's default generic types.
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: config.trustProxy,
    // Request ids are ours; an incoming x-request-id is not trusted.
    requestIdHeader: false,
    // Requests that arrive while closing get the 503 below, in the one error shape.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Ids up to JOB_ID_MAX_LENGTH must reach the routes (the router's default stops at 100 with
    // a 414 of its own), and longer ones their schema's 400 in the one error shape.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2_048 },
  });
  try {
    app.setValidatorCompiler(sharedValidatorCompiler);
    // Responses are written as the handlers build them; the response schemas document them (the
    // tests check every response against them).
    app.setSerializerCompiler(() => (data) => JSON.stringify(data));
    // JSON only: text/plain and anything else gets 415 (the login form adds urlencoded in its scope).
    app.removeContentTypeParser('text/plain');
    // JSON bodies must be valid UTF-8: the default parser would turn bad bytes into U+FFFD and
    // let them through. Prototype-poisoning keys are refused as before.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      let text: string;
      try {
        text = utf8.decode(body as Buffer);
      } catch {
        done(new ApiError(400, 'MALFORMED_JSON', 'request body is not valid UTF-8', [{ path: '', code: 'encoding', message: 'is not valid UTF-8' }]), undefined);
        return;
      }
      parseJson(request, text, done);
    });
    registerErrorHandling(app, log);
    instrumentHttp(app, metrics.registry);
    app.addHook('onRequest', async (request, reply) => {
      if (shuttingDown && request.url !== '/healthz' && request.url !== '/readyz') {
        reply.header('connection', 'close');
        throw new ApiError(503, 'SERVICE_UNAVAILABLE', 'shutting down: retry on another replica', undefined, { 'retry-after': '1' });
      }
    });
    app.addHook('onSend', async (_request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
    });

    await registerOpenApi(app);
    await app.register(healthRoutes, { redis, db, registry: metrics.registry, timeoutMs: config.dependencyTimeoutMs, isShuttingDown: () => shuttingDown });
    await app.register(generationRoutes, {
      client,
      status,
      hub,
      redis,
      auth,
      limiter: enqueueLimiter,
      claims: new IdempotencyClaims(redis, prefix),
      accepted: new AcceptedRequestStore(db.db),
      waitForReplicas: config.enqueueWaitReplicas > 0 ? replicaWaiter(redis, config.enqueueWaitReplicas, config.enqueueWaitTimeoutMs, (o) => metrics.countReplicaWait(o), log) : undefined,
      metrics,
      dependencyTimeoutMs: config.dependencyTimeoutMs,
      sseHeartbeatMs: config.sseHeartbeatMs,
      maxStreamsPerPrincipal: config.sseMaxStreamsPerPrincipal,
      streams,
      log,
    });
    const circuit = new RedisModelCircuit(redis, prefix);
    const adminOptions = { db: db.db, settings, auth, redis, queues, loginBackoff, circuit, dependencyTimeoutMs: config.dependencyTimeoutMs, log };
    await app.register(adminApiRoutes, adminOptions);
    await app.register(generationsLogRoutes, { db: db.db, auth, dependencyTimeoutMs: config.dependencyTimeoutMs });
    await app.register(settingsHistoryRoutes, { settings, auth, dependencyTimeoutMs: config.dependencyTimeoutMs });
    await app.register(insightRoutes, { db: db.db, settings, auth, dependencyTimeoutMs: config.dependencyTimeoutMs });
    await app.register(adminPageRoutes, adminOptions);
    await app.register(requestPageRoutes, { auth });
    await app.register(queueBoardRoutes, { auth, queues: [queues.primary, queues.fallback] });
    await registerDocsUi(app);

    // Event streams never end by themselves: end them first, so the server can drain.
    app.addHook('preClose', async () => {
      shuttingDown = true;
      for (const s of [...streams]) s.end();
    });
    await app.ready();
    // Give Redis a moment, so a healthy start answers its first requests; a Redis that is down
    // does not hold the start (routes that need it answer 503, /readyz says why).
    await Promise.all([untilReady(redis, config.dependencyTimeoutMs), hub.ready(config.dependencyTimeoutMs).catch(() => {})]);
  } catch (err) {
    await app.close().catch(() => {});
    await closeResources();
    throw err;
  }
  if (config.authDisabled) log.warn('AUTH_DISABLED=true: every route is open. Demo and test use only.');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      shuttingDown = true;
      const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.shutdownGraceMs).unref());
      if ((await Promise.race([app.close().then(() => 'closed' as const), grace])) === 'timeout') {
        log.warn({ graceMs: config.shutdownGraceMs }, 'requests still running after the grace period: closing connections anyway');
        app.server.closeAllConnections();
      }
      await closeResources();
      log.info('producer stopped');
    })());

  return { app, db, client, close };
}

/** Resolves when the connection is ready, or after `timeoutMs` whatever its state. */
function untilReady(redis: RedisConnection, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
  });
}

/** Builds the server and listens on the configured port (0: any free port). */
export async function startProducer(options: ProducerServerOptions): Promise<RunningProducer> {
  const server = await buildProducerServer(options);
  try {
    await server.app.listen({ port: options.config.port, host: options.config.host });
  } catch (err) {
    await server.close();
    throw err;
  }
  const address = server.app.server.address() as AddressInfo;
  const host = options.config.host === '0.0.0.0' || options.config.host === '::' ? '127.0.0.1' : options.config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  server.app.log.info({ url, prefix: options.config.redis.queuePrefix }, 'producer listening');
  return { ...server, url };
}
