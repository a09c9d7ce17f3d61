/** Liveness, readiness and Prometheus metrics: open routes, for orchestrators and scrapers. */
import type { FastifyInstance } from 'fastify';
import type { RedisConnection } from '../../shared/redis.ts';
import type { Registry } from 'prom-client';
import type { DbHandle } from '../../db/client.ts';
import { coerceError } from '../../shared/errors.ts';
import { guarded } from '../dependencies.ts';
import { errorBodySchema, errorResponses } from '../schemas.ts';

export interface HealthRoutesOptions {
  readonly redis: RedisConnection;
  readonly db: DbHandle;
  readonly registry: Registry;
  readonly timeoutMs: number;
  readonly isShuttingDown: () => boolean;
}

type Check = { ok: true; latencyMs: number } | { ok: false; error: string };

async function check(fn: () => Promise<unknown>, dep: 'redis' | 'postgres', timeoutMs: number): Promise<Check> {
  const started = performance.now();
  try {
    await guarded(dep, timeoutMs, fn);
    return { ok: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (err) {
    return { ok: false, error: coerceError(err).message };
  }
}

const checkSchema = {
  type: 'object',
  properties: { ok: { type: 'boolean' }, latencyMs: { type: 'number' }, error: { type: 'string' } },
} as const;
const readySchema = {
  type: 'object',
  required: ['status', 'checks'],
  properties: { status: { type: 'string', enum: ['ready', 'unavailable'] }, down: { type: 'array', items: { type: 'string' } }, checks: { type: 'object', properties: { redis: checkSchema, postgres: checkSchema } } },
} as const;

/**
 * Probes and scrapes: open to anyone who reaches the port (keep it off the internet), and they take
 * no parameters, so a query string is a 400 rather than silently ignored.
 */
const OPEN_ROUTE = {
  tags: ['operations'],
  security: [],
  querystring: { type: 'object', additionalProperties: false, properties: {} },
} as const;

export async function healthRoutes(app: FastifyInstance, o: HealthRoutesOptions): Promise<void> {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getLiveness',
        summary: 'Liveness: the process is up',
        ...OPEN_ROUTE,
        response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, ...errorResponses(400) },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        summary: 'Readiness: Redis and Postgres answer',
        description: '503 names the dependencies that do not answer; also 503 while shutting down.',
        ...OPEN_ROUTE,
        response: { 200: readySchema, 503: readySchema, ...errorResponses(400) },
      },
    },
    async (_request, reply) => {
      const [redis, postgres] = await Promise.all([
        // ping fails at once while the fail-fast connection is down (no offline queue).
        check(() => o.redis.ping(), 'redis', o.timeoutMs),
        check(() => o.db.sql`select 1`, 'postgres', o.timeoutMs),
      ]);
      const down = [...(redis.ok ? [] : ['redis']), ...(postgres.ok ? [] : ['postgres']), ...(o.isShuttingDown() ? ['shutting_down'] : [])];
      return reply.code(down.length === 0 ? 200 : 503).send({ status: down.length === 0 ? 'ready' : 'unavailable', down, checks: { redis, postgres } });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        ...OPEN_ROUTE,
        produces: ['text/plain'],
        response: { 200: { type: 'string' }, ...errorResponses(400), 500: errorBodySchema },
      },
    },
    async (_request, reply) => {
      const body = await o.registry.metrics();
      return reply.type(o.registry.contentType).send(body);
    },
  );
}
