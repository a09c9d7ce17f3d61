/** GET /v1/admin/settings/history: the SETTINGS_UPDATED audit rows, old → new, who and when. */
import type { FastifyInstance } from 'fastify';
import type { SettingsStore } from '../../db/settings-store.ts';
import { requireRole, type Authenticator } from '../auth.ts';
import { guarded } from '../dependencies.ts';
import { errorResponses } from '../schemas.ts';

export async function settingsHistoryRoutes(app: FastifyInstance, o: { settings: SettingsStore; auth: Authenticator; dependencyTimeoutMs: number }): Promise<void> {
  app.addHook('onRequest', requireRole(o.auth, 'admin'));
  app.get<{ Querystring: { limit?: string } }>(
    '/v1/admin/settings/history',
    {
      schema: {
        operationId: 'getSettingsHistory',
        summary: 'Settings changes, newest first: old and new values, who and when',
        tags: ['admin'],
        security: [{ bearerAuth: [] }, { adminSession: [] }],
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^(?:[1-9]|[1-9][0-9]|100)$', description: '1 to 100 (default 20).' } } },
        response: { 200: { description: 'Changes', type: 'object' }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const changes = await guarded('postgres', o.dependencyTimeoutMs, () => o.settings.history(Number(request.query.limit ?? '20')));
      return { changes: changes.map((c) => ({ at: c.at.toISOString(), updatedBy: c.updatedBy, old: c.old, new: c.new })) };
    },
  );
}
