/**
 * Where the money goes and what the models write: spend over time per model, the top users and
 * agents by spend, and the latest workflows of two models for similar goals side by side.
 */
import type { FastifyInstance } from 'fastify';
import type { Database } from '../../db/client.ts';
import type { SettingsStore } from '../../db/settings-store.ts';
import type { SpenderKind } from '../../db/spend-queries.ts';
import { STATS_WINDOWS, type StatsWindow } from '../../db/stats-queries.ts';
import { DEFAULT_SETTINGS, resolveSettings } from '../../shared/settings.ts';
import { requireRole, type Authenticator } from '../auth.ts';
import { guarded } from '../dependencies.ts';
import { ApiError } from '../errors.ts';
import { errorResponses } from '../schemas.ts';
import { sideBySideView } from '../side-by-side.ts';
import { spendOverTimeView, topSpendersView } from '../spend-views.ts';

const SECURITY: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { adminSession: [] }];
const windowParam = (fallback: StatsWindow) => ({ type: 'string', enum: Object.keys(STATS_WINDOWS), description: `The last hour, 24 hours, 7 or 30 days (default ${fallback}).` });
const modelParam = (which: string) => ({ type: 'string', minLength: 1, maxLength: 100, description: `${which} (default: the configured ${which === 'Model A' ? 'primary' : 'fallback'} model).` });

export async function insightRoutes(app: FastifyInstance, o: { db: Database; settings: SettingsStore; auth: Authenticator; dependencyTimeoutMs: number }): Promise<void> {
  const t = o.dependencyTimeoutMs;
  app.addHook('onRequest', requireRole(o.auth, 'admin'));
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.get<{ Querystring: { window?: StatsWindow } }>(
    '/v1/admin/spend',
    {
      schema: {
        operationId: 'getSpendOverTime',
        summary: 'Spend over time per model, in buckets',
        description:
          'Every priced attempt (wasted ones included) per model and bucket: 1h in 5-minute buckets, 24h hourly, 7d in 6-hour buckets, 30d daily. Buckets are aligned to the epoch; the last is the one now falls in, so the chart spans up to one bucket more than the window.',
        tags: ['admin'],
        security: SECURITY,
        querystring: { type: 'object', additionalProperties: false, properties: { window: windowParam('24h') } },
        response: { 200: { description: 'Buckets and one series per model', type: 'object' }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => guarded('postgres', t, () => spendOverTimeView(o.db, request.query.window ?? '24h')),
  );

  app.get<{ Querystring: { window?: StatsWindow; by?: SpenderKind; limit?: string } }>(
    '/v1/admin/top-spenders',
    {
      schema: {
        operationId: 'getTopSpenders',
        summary: 'The users or agents whose requests cost the most',
        description: 'Spend of every attempt in the window (wasted ones included), summed per user or agent of the request it served, most first, with each one’s share of the window’s spend.',
        tags: ['admin'],
        security: SECURITY,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            window: windowParam('24h'),
            by: { type: 'string', enum: ['user', 'agent'], description: 'Rank users or agents (default user).' },
            limit: { type: 'string', pattern: '^(?:[1-9]|[1-4][0-9]|50)$', description: '1 to 50 (default 10).' },
          },
        },
        response: { 200: { description: 'Ranked spenders', type: 'object' }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const q = request.query;
      return guarded('postgres', t, () => topSpendersView(o.db, q.by ?? 'user', q.window ?? '24h', Number(q.limit ?? '10')));
    },
  );

  app.get<{ Querystring: { modelA?: string; modelB?: string; window?: StatsWindow; limit?: string } }>(
    '/v1/admin/side-by-side',
    {
      schema: {
        operationId: 'getSideBySide',
        summary: 'The latest workflows of two models for similar goals, side by side',
        description:
          'Similar goals: the same agent, or goals sharing at least half their words (Jaccard similarity of words of 3+ letters, stop words left out). Model A’s newest usable workflows each get model B’s most similar one; each workflow is used once.',
        tags: ['admin'],
        security: SECURITY,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { modelA: modelParam('Model A'), modelB: modelParam('Model B'), window: windowParam('30d'), limit: { type: 'string', pattern: '^(?:[1-9]|1[0-9]|20)$', description: '1 to 20 pairs (default 5).' } },
        },
        response: { 200: { description: 'Pairs of workflows', type: 'object' }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const q = request.query;
      let configured: { primaryModel: string; fallbackModel: string } = DEFAULT_SETTINGS;
      if (q.modelA === undefined || q.modelB === undefined) {
        try {
          configured = resolveSettings(await guarded('postgres', t, () => o.settings.readRaw()), await guarded('postgres', t, () => o.settings.catalog.load()));
        } catch {
          // Stored settings that do not resolve: compare the default models.
        }
      }
      const a = q.modelA ?? configured.primaryModel;
      const b = q.modelB ?? configured.fallbackModel;
      if (a === b) throw new ApiError(400, 'INVALID_REQUEST', 'invalid query string: /modelB must differ from modelA', [{ path: '/modelB', code: 'same_model', message: 'must differ from modelA' }]);
      return guarded('postgres', t * 2, () => sideBySideView(o.db, a, b, STATS_WINDOWS[q.window ?? '30d'], Number(q.limit ?? '5')));
    },
  );
}
