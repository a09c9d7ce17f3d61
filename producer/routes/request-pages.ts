/** The request log's pages: /admin/requests (filters in the URL) and /admin/requests/{id}; /admin/compare (two models side by side). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth.ts';
import { ADMIN_PAGE_HEADERS, comparePage, type PageOptions, requestsPage } from '../admin/pages.ts';
import { toApiError } from '../errors.ts';

export async function requestPageRoutes(app: FastifyInstance, o: { auth: Authenticator }): Promise<void> {
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(ADMIN_PAGE_HEADERS);
  });
  const page = (html: (options: PageOptions) => string) => async (request: FastifyRequest, reply: FastifyReply) => {
    let who: string;
    try {
      who = (await o.auth.authorize(request, 'admin')).id;
    } catch (err) {
      if (toApiError(err).statusCode === 401) return reply.redirect('/admin/login', 303);
      throw err;
    }
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html({ authDisabled: o.auth.disabled, signedInAs: o.auth.disabled ? null : who }));
  };
  app.get('/admin/requests', { schema: { hide: true } }, page(requestsPage));
  app.get('/admin/requests/:id', { schema: { hide: true } }, page(requestsPage));
  app.get('/admin/compare', { schema: { hide: true } }, page(comparePage));
}
