/**
 * bull-board at /admin/queues for both queues: inspect jobs, retry failed ones. Behind the admin
 * credentials like the rest of /admin; a browser without a session is sent to the login form.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { type Authenticator, requireRole } from '../auth.js';
import { sendError, toApiError } from '../errors.js';
import { ADMIN_PAGE_HEADERS } from '../admin/pages.js';

export const QUEUES_BASE_PATH = '/admin/queues';

export async function queueBoardRoutes(app: FastifyInstance, o: { auth: Authenticator; queues: readonly Queue[] }): Promise<void> {
  const check = requireRole(o.auth, 'admin');
  app.addHook('onRequest', async (request, reply) => {
    try {
      await check(request, reply);
    } catch (err) {
      const e = toApiError(err);
      const wantsPage = request.method === 'GET' && !request.url.startsWith(`${QUEUES_BASE_PATH}/api/`) && (request.headers.accept ?? '').includes('text/html');
      if (e.statusCode === 401 && wantsPage) return reply.redirect('/admin/login', 303);
      // Answered here: bull-board's own error handler would give its routes another error shape.
      return sendError(reply, e);
    }
  });
  app.addHook('onSend', async (_request, reply) => {
    // bull-board's page loads its own scripts and styles from here; it must not be framed either.
    reply.header('x-frame-options', ADMIN_PAGE_HEADERS['x-frame-options']!);
  });

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUES_BASE_PATH);
  createBullBoard({
    queues: o.queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Workflow queues' } },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUES_BASE_PATH });
}
