/**
 * The request log for operators: GET /v1/admin/generations (filters, newest first, a keyset
 * cursor, `format=csv` streaming the same rows) and GET /v1/admin/generations/{id} (one request
 * in full: the request, its settings, every attempt, its audit rows and the workflow).
 */
import { once } from 'node:events';
import { stringify } from 'csv-stringify';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../../db/client.ts';
import { generationDetail, type GenerationFilters, type GenerationRow, listFallbackEvents, listGenerations, type LogCursor } from '../../db/generations-log.ts';
import { parseUsd, usdToNumber } from '../../shared/money.ts';
import { requireRole, type Authenticator } from '../auth.ts';
import { guarded } from '../dependencies.ts';
import { ApiError } from '../errors.ts';
import { errorResponses } from '../schemas.ts';

const SECURITY: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { adminSession: [] }];
const CSV_PAGE = 500;

const text = (description: string) => ({ type: 'string', minLength: 1, maxLength: 255, description });
const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['queued', 'succeeded', 'invalid', 'failed', 'rejected'] },
    generator: text('The model whose answer is the result.'),
    primaryModel: text('The primary model the request ran with.'),
    fallbackReason: text('Why the primary handed over (schema, timeout, …).'),
    userId: text('The requesting user.'),
    agentId: text('The agent.'),
    from: { type: 'string', format: 'date-time', description: 'Created at or after (ISO 8601).' },
    to: { type: 'string', format: 'date-time', description: 'Created before (ISO 8601).' },
    jobIdPrefix: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,128}$', description: 'Job ids starting with this.' },
    limit: { type: 'string', pattern: '^(?:[1-9]|[1-9][0-9]|1[0-9][0-9]|200)$', description: 'Rows per page, 1 to 200 (default 50).' },
    cursor: { type: 'string', maxLength: 512, description: 'nextCursor of the previous page.' },
    format: { type: 'string', enum: ['json', 'csv'], description: 'csv streams every matching row (no paging).' },
  },
} as const;

interface LogQuery extends Omit<GenerationFilters, 'from' | 'to'> {
  readonly from?: string;
  readonly to?: string;
  readonly limit?: string;
  readonly cursor?: string;
  readonly format?: 'json' | 'csv';
}

export function encodeCursor(c: LogCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt.toISOString(), c.jobId])).toString('base64url');
}

function decodeCursor(raw: string): LogCursor {
  try {
    const [at, jobId] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as [unknown, unknown];
    const createdAt = new Date(String(at));
    if (typeof jobId !== 'string' || Number.isNaN(createdAt.getTime())) throw new Error('bad cursor');
    return { createdAt, jobId };
  } catch {
    throw new ApiError(400, 'INVALID_REQUEST', 'invalid query string: /cursor is not a cursor this API returned', [{ path: '/cursor', code: 'invalid_cursor', message: 'is not a cursor this API returned' }]);
  }
}

const money = (exact: string | null) => (exact === null ? null : usdToNumber(parseUsd(exact)));

/** A log row as the API and the CSV show it. */
export function logItem(r: GenerationRow) {
  return {
    id: r.jobId,
    status: r.status,
    userId: r.userId,
    agentId: r.agentId,
    primaryModel: r.primaryModel,
    generatorUsed: r.generatorUsed,
    fallbackReason: r.fallbackReason,
    failureReason: r.failureReason,
    validationPassed: r.validationPassed,
    attempts: r.attempts,
    totalTokens: r.totalTokens,
    costUsd: money(r.costUsd),
    costUsdExact: r.costUsd,
    generationTimeMs: r.generationTimeMs,
    createdAt: r.createdAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

const CSV_COLUMNS = ['id', 'status', 'createdAt', 'finishedAt', 'userId', 'agentId', 'primaryModel', 'generatorUsed', 'fallbackReason', 'failureReason', 'validationPassed', 'attempts', 'totalTokens', 'costUsdExact', 'generationTimeMs'] as const;

export async function generationsLogRoutes(app: FastifyInstance, o: { db: Database; auth: Authenticator; dependencyTimeoutMs: number }): Promise<void> {
  const t = o.dependencyTimeoutMs;
  app.addHook('onRequest', requireRole(o.auth, 'admin'));
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.get<{ Querystring: LogQuery }>(
    '/v1/admin/generations',
    {
      schema: {
        operationId: 'listGenerations',
        summary: 'The request log, newest first, filtered and paged',
        description: 'Filters combine with AND. JSON pages carry nextCursor (null on the last page); format=csv streams every matching row.',
        tags: ['admin'],
        security: SECURITY,
        querystring: querySchema,
        response: { 200: { description: 'A page of requests, or CSV', type: 'object' }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request, reply) => {
      const { limit, cursor, format, from, to, ...rest } = request.query;
      const filters: GenerationFilters = { ...rest, ...(from ? { from: new Date(from) } : {}), ...(to ? { to: new Date(to) } : {}) };
      const after = cursor ? decodeCursor(cursor) : null;
      if (format === 'csv') return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="generations.csv"').send(csvStream(o.db, filters, after));
      const page = await guarded('postgres', t, () => listGenerations(o.db, filters, after, Number(limit ?? '50')));
      return { items: page.rows.map(logItem), nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    '/v1/admin/fallback-events',
    {
      schema: {
        operationId: 'listFallbackEvents',
        summary: 'Hand-overs to the fallback model (WORKFLOW_GENERATION_FALLBACK), newest first',
        tags: ['admin'],
        security: SECURITY,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: querySchema.properties.limit, cursor: { type: 'string', pattern: '^[1-9][0-9]{0,17}$', description: 'nextCursor of the previous page.' } },
        },
        response: { 200: { description: 'A page of fallback events', type: 'object' }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const page = await guarded('postgres', t, () => listFallbackEvents(o.db, request.query.cursor ? Number(request.query.cursor) : null, Number(request.query.limit ?? '50')));
      return {
        items: page.rows.map((r) => {
          const d = (r.details ?? {}) as Record<string, unknown>;
          return {
            at: r.timestamp.toISOString(),
            requestId: r.jobId,
            userId: r.userId,
            agentId: r.agentId,
            reason: d.reason ?? null,
            primaryModel: d.primary_model ?? null,
            fallbackModel: d.fallback_model ?? null,
            errorMessage: d.error_message ?? null,
            costUsdWasted: d.cost_usd_wasted ?? null,
          };
        }),
        nextCursor: page.next === null ? null : String(page.next),
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/admin/generations/:id',
    {
      schema: {
        operationId: 'getGenerationDetail',
        summary: 'One request in full: request, settings, attempts, audit rows, workflow',
        tags: ['admin'],
        security: SECURITY,
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 255 } } },
        response: { 200: { description: 'The request', type: 'object' }, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const d = await guarded('postgres', t, () => generationDetail(o.db, request.params.id));
      if (!d) throw new ApiError(404, 'NOT_FOUND', `no request ${request.params.id}`);
      const r = d.request;
      return {
        ...logItem(r),
        request: r.request,
        settings: r.settings,
        workflow: r.workflow,
        stepsGenerated: r.stepsGenerated,
        validationErrors: r.validationErrors,
        tokens: { input: r.inputTokens, output: r.outputTokens, cachedInput: r.cachedInputTokens, cacheWrite: r.cacheWriteTokens, total: r.totalTokens },
        enqueuedAt: r.enqueuedAt?.toISOString() ?? null,
        startedAt: r.startedAt?.toISOString() ?? null,
        attemptRows: d.attempts.map((a) => ({
          attemptNumber: a.attemptNumber,
          model: a.model,
          provider: a.provider,
          role: a.role,
          outcome: a.outcome,
          validationErrors: a.validationErrors,
          errorMessage: a.errorMessage,
          httpStatus: a.httpStatus,
          retryAfterMs: a.retryAfterMs,
          tokens: { input: a.inputTokens, output: a.outputTokens, cachedInput: a.cachedInputTokens, cacheWrite: a.cacheWriteTokens },
          costUsd: money(a.costUsd),
          costUsdExact: a.costUsd,
          latencyMs: a.latencyMs,
          settings: a.settings,
          startedAt: a.startedAt.toISOString(),
          finishedAt: a.finishedAt.toISOString(),
        })),
        audit: d.audit.map((a) => ({ id: String(a.id), timestamp: a.timestamp.toISOString(), action: a.action, severity: a.severity, userId: a.userId, agentId: a.agentId, details: a.details })),
      };
    },
  );
}

/** Every matching row as CSV, read page by page and written with backpressure. */
function csvStream(db: Database, filters: GenerationFilters, after: LogCursor | null) {
  const out = stringify({ header: true, columns: [...CSV_COLUMNS] });
  void (async () => {
    let cursor = after;
    do {
      const page = await listGenerations(db, filters, cursor, CSV_PAGE);
      for (const row of page.rows) {
        const item = logItem(row);
        if (!out.write(CSV_COLUMNS.map((c) => item[c]))) await once(out, 'drain');
      }
      cursor = page.next;
    } while (cursor);
    out.end();
  })().catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  return out;
}
