/** Liveness, readiness and Prometheus metrics: open routes, for orchestrators and scrapers. */
import type { FastifyInstance } from 'fastify';
import type { RedisConnection } from '../../shared/redis.js';
import type { Registry } from 'prom-client';
import type { DbHandle } from '../../db/client.js';
import { coerceError } from '../../shared/errors.js';
import { guarded } from '../dependencies.js';
import { errorBodySchema } from '../schemas.js';

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

export async function healthRoutes(app: FastifyInstance, o: HealthRoutesOptions): Promise<void> {
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness: the process is up', tags: ['operations'], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: Redis and Postgres answer',
        description: '503 names the dependencies that do not answer; also 503 while shutting down.',
        tags: ['operations'],
        response: { 200: readySchema, 503: readySchema },
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
    { schema: { summary: 'Prometheus metrics', tags: ['operations'], produces: ['text/plain'], response: { 200: { type: 'string' }, 500: errorBodySchema } } },
    async (_request, reply) => {
      const body = await o.registry.metrics();
      return reply.type(o.registry.contentType).send(body);
    },
  );
}
