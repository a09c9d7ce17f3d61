/**
 * The generation API: enqueue (through the producer library, so both share one code path),
 * read a request's state, and follow its progress as server-sent events.
 */
import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RedisConnection } from '../../shared/redis.ts';
import type { GenerationClient } from '../client.ts';
import { fingerprintOf, type IdempotencyClaims } from '../idempotency.ts';
import { mintRequestId, ownsRequest } from '../request-ownership.ts';
import type { AcceptedRequestStore } from '../../db/accepted-requests.ts';
import { type GenerationRequest, parseGenerationRequest } from '../../shared/jobs.ts';
import type { Logger } from '../../shared/logger.ts';
import { type Authenticator, requireRole } from '../auth.ts';
import { assertRedisReady, guarded, unavailable } from '../dependencies.ts';
import { ApiError } from '../errors.ts';
import { EventStream, type GenerationEventHub } from '../events.ts';
import type { GenerationStatusReader } from '../generation-status.ts';
import type { ProducerMetrics } from '../metrics.ts';
import { rateLimitedError, rateLimitHeaders, type RedisRateLimiter } from '../rate-limit.ts';
import { enqueueResponseSchema, errorResponses, generationIdParamsSchema, generationRequestSchema, generationStatusSchema } from '../schemas.ts';

export interface GenerationRoutesOptions {
  readonly client: GenerationClient;
  readonly status: GenerationStatusReader;
  readonly hub: GenerationEventHub;
  readonly redis: RedisConnection;
  readonly auth: Authenticator;
  readonly limiter: RedisRateLimiter;
  readonly claims: IdempotencyClaims;
  /** Where accepted requests are written before their jobs. */
  readonly accepted: Pick<AcceptedRequestStore, 'recordAccepted' | 'forgetRefused'>;
  /**
   * Called after each enqueue when set: returns once enough replicas have the job, or its time
   * is up (producer/replica-wait.ts). Never throws: the job was accepted either way.
   */
  readonly waitForReplicas?: (() => Promise<void>) | undefined;
  readonly metrics: ProducerMetrics;
  readonly dependencyTimeoutMs: number;
  readonly sseHeartbeatMs: number;
  /** Event streams one principal may hold open at once on this replica. */
  readonly maxStreamsPerPrincipal: number;
  /** Open event streams, ended at shutdown. */
  readonly streams: Set<EventStream>;
  readonly log: Logger;
}

const IDEMPOTENCY_KEY = /^[^\u0000-\u001f\u007f]{1,255}$/;
const SECURITY = [{ bearerAuth: [] }];

export async function generationRoutes(app: FastifyInstance, o: GenerationRoutesOptions): Promise<void> {
  const authenticate = requireRole(o.auth, 'api');
  const asAdmin = requireRole(o.auth, 'admin');
  /** Reads take an API token (its own requests) or the admin's credentials (every request). */
  const authenticateReader = async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      await authenticate(request, reply);
    } catch (err) {
      if (!(err instanceof ApiError && err.statusCode === 403)) throw err;
      await asAdmin(request, reply);
    }
  };
  const t = o.dependencyTimeoutMs;

  /** Open event streams by principal id, on this replica: each holds memory and a socket. */
  const openStreams = new Map<string, number>();
  const countStream = (principalId: string, delta: 1 | -1) => {
    const n = (openStreams.get(principalId) ?? 0) + delta;
    if (n > 0) openStreams.set(principalId, n);
    else openStreams.delete(principalId);
  };

  const rateLimit = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!o.limiter.enabled) return;
    assertRedisReady(o.redis);
    const decision = await guarded('redis', t, () => o.limiter.hit(request.principal!.keyHash));
    if (!decision.allowed) throw rateLimitedError(decision, 'enqueue');
    reply.headers(rateLimitHeaders(decision));
  };

  app.post<{ Body: GenerationRequest }>(
    '/v1/generations',
    {
      onRequest: [authenticate, rateLimit],
      schema: {
        operationId: 'enqueueGeneration',
        summary: 'Enqueue a workflow generation request',
        description:
          'The body is the job contract. With an Idempotency-Key header (or `idempotencyKey` in the body) a repeat returns the first id and enqueues nothing new; reusing a key with a different request is a 409.',
        tags: ['generations'],
        security: SECURITY,
        headers: {
          type: 'object',
          properties: { 'idempotency-key': { type: 'string', description: 'Makes the request idempotent, scoped by (token, userId, key).' } },
        },
        body: generationRequestSchema,
        response: { 202: { description: 'Accepted', ...enqueueResponseSchema }, ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const req = withHeaderKey(request.body, request.headers['idempotency-key']);
      const principal = request.principal!;
      const id = mintRequestId(principal, req);
      const fingerprint = req.idempotencyKey === undefined ? null : fingerprintOf(req);
      if (fingerprint !== null) {
        assertRedisReady(o.redis);
        const replay = await guarded('redis', t, () => claimOrReplay(id, req, fingerprint));
        if (replay) {
          const snap = await guarded('redis', t, () => o.status.read(id));
          return reply
            .code(202)
            .header('location', `/v1/generations/${id}`)
            .header('idempotent-replayed', 'true')
            .send({ id, status: snap?.view.status ?? 'queued' });
        }
      }
      const started = performance.now();
      const valid = parseGenerationRequest(req);
      const enqueuedAt = Date.now();
      assertRedisReady(o.redis);
      // The accepted request is written before its job: Redis can lose an acknowledged job in a
      // failover, and this row is how the lost-request sweep finds and recovers it (docs/redis.md).
      try {
        await guarded('postgres', t, () => o.accepted.recordAccepted({ jobId: id, userId: valid.userId, agentId: valid.agentId, request: valid, enqueuedAt: new Date(enqueuedAt) }));
      } catch (err) {
        o.metrics.observeEnqueue((performance.now() - started) / 1000, 'error');
        if (fingerprint !== null) await o.claims.release(id, fingerprint).catch(() => {});
        throw err;
      }
      try {
        await guarded('redis', t, () => o.client.enqueue(valid, { jobId: id, enqueuedAt }));
        o.metrics.observeEnqueue((performance.now() - started) / 1000, 'ok');
      } catch (err) {
        o.metrics.observeEnqueue((performance.now() - started) / 1000, 'error');
        // Refused (503): the caller will retry, so the row must not make the sweep run it too.
        await o.accepted.forgetRefused(id).catch(() => {});
        if (fingerprint !== null) await o.claims.release(id, fingerprint).catch(() => {});
        throw err;
      }
      // The job is in Redis and the row in Postgres: accepted whatever the wait finds.
      if (o.waitForReplicas) await o.waitForReplicas();
      request.log.info({ jobId: id, principal: request.principal?.id, userId: req.userId, agentId: req.agentId }, 'generation enqueued');
      return reply.code(202).header('location', `/v1/generations/${id}`).send({ id, status: 'queued' });
    },
  );

  /**
   * True when this request repeats an earlier one with the same id (a replay); throws 409 when
   * the earlier one had another body; false when this request is the first and must be enqueued.
   */
  const claimOrReplay = async (id: string, req: GenerationRequest, fingerprint: string): Promise<boolean> => {
    const prior = await o.claims.claim(id, fingerprint);
    if (prior === null) {
      // Claimed; an older request may still hold the id after its claim expired.
      let older: { request: unknown } | undefined;
      try {
        older = await o.status.submittedRequest(id);
      } catch (err) {
        // Nothing enqueued: a retry must be able to claim the key, not replay a request that never ran.
        await o.claims.release(id, fingerprint).catch(() => {});
        throw err;
      }
      if (!older) return false;
      const olderFingerprint = fingerprintOf(older.request);
      await o.claims.settle(id, olderFingerprint);
      if (olderFingerprint !== fingerprint) throw conflict(id);
      return true;
    }
    if (prior !== fingerprint) throw conflict(id);
    return true;
  };

  /** Another principal's request answers exactly as a request that does not exist. */
  const ownedId = (request: FastifyRequest<{ Params: { id: string } }>): string => {
    const id = request.params.id;
    if (!ownsRequest(request.principal!, id)) throw notFound(id);
    return id;
  };

  app.get<{ Params: { id: string } }>(
    '/v1/generations/:id',
    {
      onRequest: authenticateReader,
      schema: {
        operationId: 'getGeneration',
        summary: "A request's status, and its result once finished",
        tags: ['generations'],
        security: SECURITY,
        params: generationIdParamsSchema,
        response: { 200: { description: 'The request', ...generationStatusSchema }, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const id = ownedId(request);
      assertRedisReady(o.redis);
      const snap = await guarded('postgres', t, () => o.status.read(id));
      if (!snap) throw notFound(id);
      return snap.view;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/generations/:id/events',
    {
      onRequest: authenticateReader,
      schema: {
        operationId: 'streamGenerationEvents',
        summary: "A request's progress as server-sent events",
        description:
          'Events, each at most once and in this order: queued, primary_started, validating (role primary), fallback_enqueued, fallback_started, validating (role fallback), finished. ' +
          'The stages already passed come first, then live ones; the stream ends after `finished`, whose data holds the status and result. ' +
          'Event ids are stage ranks: a reconnecting client sending Last-Event-ID gets only later stages. A comment line comes every 15 s as a heartbeat.',
        tags: ['generations'],
        security: SECURITY,
        params: generationIdParamsSchema,
        response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errorResponses(401, 403, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const id = ownedId(request);
      assertRedisReady(o.redis);
      try {
        await o.hub.ready(t);
      } catch (err) {
        throw unavailable('redis', 'queue events are not connected', err);
      }
      const principalId = request.principal!.id;
      if ((openStreams.get(principalId) ?? 0) >= o.maxStreamsPerPrincipal) {
        throw new ApiError(429, 'RATE_LIMITED', `at most ${o.maxStreamsPerPrincipal} event streams may be open at once per token: close one first`, { limit: o.maxStreamsPerPrincipal }, { 'retry-after': '1' });
      }
      // Counted from here, before any await, so concurrent opens cannot all pass the check.
      countStream(principalId, 1);
      let counted = true;
      const uncount = () => {
        if (counted) countStream(principalId, -1);
        counted = false;
      };
      const lastEventId = Number.parseInt(String(request.headers['last-event-id'] ?? ''), 10);
      const read = () => o.status.read(id);
      // Subscribed before the first read, so nothing between the read and the stream is lost.
      const stream = new EventStream({
        id,
        hub: o.hub,
        read,
        raw: reply.raw,
        heartbeatMs: o.sseHeartbeatMs,
        lastEventId: Number.isInteger(lastEventId) && lastEventId >= 0 && lastEventId <= 6 ? lastEventId : -1,
        log: o.log,
        onEnd: () => {
          o.streams.delete(stream);
          uncount();
        },
      });
      let snap;
      try {
        snap = await guarded('redis', t, read);
      } catch (err) {
        stream.dispose();
        uncount();
        throw err;
      }
      if (!snap) {
        stream.dispose();
        uncount();
        throw notFound(id);
      }
      o.streams.add(stream);
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      stream.start(snap);
    },
  );
}

function notFound(id: string): ApiError {
  return new ApiError(404, 'NOT_FOUND', `no generation request with id ${id}`);
}

function conflict(id: string): ApiError {
  return new ApiError(409, 'IDEMPOTENCY_CONFLICT', 'this idempotency key was used with a different request', { id });
}

/** The request with the Idempotency-Key header merged in; the header and body must agree. */
function withHeaderKey(body: GenerationRequest, header: string | string[] | undefined): GenerationRequest {
  if (header === undefined) return body;
  const key = Array.isArray(header) ? undefined : header;
  if (key === undefined || !IDEMPOTENCY_KEY.test(key)) {
    throw new ApiError(400, 'INVALID_REQUEST', 'the Idempotency-Key header must be one value of 1-255 printable characters', [
      { path: '/idempotencyKey', code: 'header', message: 'Idempotency-Key header must be 1-255 printable characters' },
    ]);
  }
  if (body.idempotencyKey !== undefined && body.idempotencyKey !== key) {
    throw new ApiError(400, 'INVALID_REQUEST', 'the Idempotency-Key header and the body idempotencyKey differ', [
      { path: '/idempotencyKey', code: 'mismatch', message: 'differs from the Idempotency-Key header' },
    ]);
  }
  return { ...body, idempotencyKey: key };
}
