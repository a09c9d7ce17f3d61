/**
 * bull-board at /admin/queues for both queues: inspect jobs, retry failed ones. Behind the admin
 * credentials like the rest of /admin; a browser without a session is sent to the login form.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { type Authenticator, requireRole } from '../auth.ts';
import { sendError, toApiError } from '../errors.ts';
import { ADMIN_PAGE_HEADERS } from '../admin/pages.ts';

export const QUEUES_BASE_PATH = '/admin/queues';

/**
 * bull-board's page asks Google Fonts for IBM Plex, which fails offline and tells a third party
 * who opens the console; its stylesheet falls back to system fonts. The policy makes sure nothing
 * else leaves either (its loader and React use inline styles, hence 'unsafe-inline' for styles).
 */
const QUEUE_BOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/** A way back to the console on every board page: bull-board's own header has only a menu. */
const BACK_LINK =
  '<a href="/admin" data-testid="back-to-console" style="position:fixed;right:1rem;bottom:1rem;z-index:1000;padding:.45rem .8rem;border-radius:6px;background:#111827;color:#f9fafb;font:600 14px/1.2 system-ui,sans-serif;text-decoration:none;box-shadow:0 1px 4px rgba(0,0,0,.3)">← Admin console</a>';

/** bull-board's page as served: no stylesheet from another host, and a link back to /admin. */
export function servedQueueBoardPage(html: string): string {
  return html.replace(/<link\b[^>]*\bhref="https?:\/\/[^"]*"[^>]*>\s*/gi, '').replace(/(<body\b[^>]*>)/i, `$1${BACK_LINK}`);
}

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
  app.addHook('onSend', async (_request, reply, payload) => {
    // bull-board's page loads its own scripts and styles from here; it must not be framed either.
    reply.header('x-frame-options', ADMIN_PAGE_HEADERS['x-frame-options']!);
    if (typeof payload !== 'string' || !String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return payload;
    reply.header('content-security-policy', QUEUE_BOARD_CSP);
    return servedQueueBoardPage(payload);
  });

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUES_BASE_PATH);
  createBullBoard({
    queues: o.queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Workflow queues', miscLinks: [{ text: '← Admin console', url: '/admin' }] } },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUES_BASE_PATH });
}
