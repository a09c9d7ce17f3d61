/**
 * The admin API (settings, catalog, live figures) and the admin pages (the console, its login
 * form and its static assets). Admin credentials: an admin's token (ADMIN_API_TOKENS or
 * ADMIN_API_TOKEN) as a bearer token, or the session cookie the login form sets.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RedisConnection } from '../../shared/redis.ts';
import type { Queue } from 'bullmq';
import type { Database } from '../../db/client.ts';
import { SettingsConflictError, settingsEtag, type SettingsStore } from '../../db/settings-store.ts';
import { STATS_WINDOWS, type StatsWindow } from '../../db/stats-queries.ts';
import { ConfigurationError, coerceError, type FieldError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { assertPriced } from '../../shared/money.ts';
import type { ModelCatalog } from '../../shared/models.ts';
import type { ModelCircuit } from '../../shared/model-circuit.ts';
import { DEFAULT_SETTINGS, ladderErrors, mergeSettingsWrite, type RawSettings, resolveSettings, SETTING_KEYS, type SettingsWrite } from '../../shared/settings.ts';
import { lifecycleWarnings } from '../model-lifecycle.ts';
import { modelRoutes } from './models.ts';
import { catalogView, statsView } from '../admin-stats.ts';
import { adminAsset, loginPage, ADMIN_PAGE_HEADERS, consolePage } from '../admin/pages.ts';
import { type Authenticator, requireRole, sessionCookie } from '../auth.ts';
import { guarded } from '../dependencies.ts';
import { ApiError, toApiError } from '../errors.ts';
import type { LoginBackoff } from '../login-backoff.ts';
import { catalogResponseSchema, circuitsResponseSchema, errorResponses, settingsBodySchema, settingsResponseSchema, statsQuerySchema } from '../schemas.ts';

export interface AdminRoutesOptions {
  readonly db: Database;
  readonly settings: SettingsStore;
  readonly auth: Authenticator;
  readonly redis: RedisConnection;
  readonly queues: { readonly primary: Queue; readonly fallback: Queue };
  readonly loginBackoff: LoginBackoff;
  /** Each model's circuit, shown with the settings. */
  readonly circuit: ModelCircuit;
  readonly dependencyTimeoutMs: number;
  readonly log: Logger;
}

const SECURITY: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { adminSession: [] }];

/**
 * Field-level reasons a settings change is refused; empty when it is acceptable. `stored`: the
 * settings now stored, which keys left out of the write keep.
 */
export function settingsErrors(write: SettingsWrite, catalog: ModelCatalog, stored: RawSettings = DEFAULT_SETTINGS): FieldError[] {
  const merged = mergeSettingsWrite(write, stored);
  if (merged.errors.length > 0) return merged.errors;
  const next = merged.settings as { primaryModel: string; fallbackModel: string; enableFallback: boolean };
  const errors: FieldError[] = [];
  for (const key of ['primaryModel', 'fallbackModel'] as const) {
    const model = catalog.find(next[key]);
    if (!model) {
      errors.push({ path: `/${key}`, code: 'unknown_model', message: `${JSON.stringify(next[key])} is not a model in the catalog` });
      continue;
    }
    try {
      assertPriced(model);
    } catch (err) {
      errors.push({ path: `/${key}`, code: 'unpriced', message: coerceError(err).message });
    }
  }
  if (next.enableFallback && next.primaryModel === next.fallbackModel) {
    errors.push({ path: '/fallbackModel', code: 'same_as_primary', message: 'must differ from primaryModel while fallback is enabled' });
  }
  // The chain's head is the fallback model, already reported above.
  const ladder = ladderErrors(merged.settings as Required<RawSettings>, catalog).filter((e) => e.path !== '/fallbackChain/0' || !errors.some((f) => f.path === '/fallbackModel'));
  return [...errors, ...ladder];
}

/**
 * The ladder's stored values as the API shows them (the cap's stored "", no cap, as null). Beside
 * `settings`, not in it: `settings` keeps the seed's three keys, which clients compare whole.
 */
function shownLadder(raw: RawSettings) {
  return {
    fallbackChain: raw.fallbackChain,
    repairAttempts: raw.repairAttempts,
    maxCostPerRequestUsd: raw.maxCostPerRequestUsd === '' ? null : raw.maxCostPerRequestUsd,
  };
}

async function settingsView(store: SettingsStore) {
  const [raw, rows] = await Promise.all([store.readRaw(), store.rows()]);
  let problem: string | null = null;
  let lifecycle: ReturnType<typeof lifecycleWarnings> = [];
  try {
    const resolved = resolveSettings(raw, await store.catalog.load());
    lifecycle = lifecycleWarnings(resolved, new Date());
  } catch (err) {
    problem = coerceError(err).message;
  }
  const latest = rows.reduce<(typeof rows)[number] | undefined>((a, r) => (!a || r.updatedAt > a.updatedAt ? r : a), undefined);
  return {
    settings: { primaryModel: raw.primaryModel, fallbackModel: raw.fallbackModel, enableFallback: raw.enableFallback },
    ladder: shownLadder(raw),
    valid: problem === null,
    problem,
    updatedAt: latest ? latest.updatedAt.toISOString() : null,
    updatedBy: latest?.updatedBy ?? null,
    lifecycle,
    etag: settingsEtag(rows),
  };
}

export async function adminApiRoutes(app: FastifyInstance, o: AdminRoutesOptions): Promise<void> {
  const t = o.dependencyTimeoutMs;
  app.addHook('onRequest', requireRole(o.auth, 'admin'));
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });
  modelRoutes(app, { catalog: o.settings.catalog, dependencyTimeoutMs: t, security: SECURITY });

  app.get(
    '/v1/admin/settings',
    {
      schema: {
        operationId: 'getSettings',
        summary: 'The orchestrator model settings',
        tags: ['admin'],
        security: SECURITY,
        response: { 200: { description: 'Settings as stored; the ETag header is their version, for If-Match', ...settingsResponseSchema }, ...errorResponses(401, 403, 503) },
      },
    },
    async (_request, reply) => {
      const view = await guarded('postgres', t, () => settingsView(o.settings));
      reply.header('etag', view.etag);
      return view;
    },
  );

  app.put<{ Body: SettingsWrite }>(
    '/v1/admin/settings',
    {
      schema: {
        operationId: 'updateSettings',
        summary: 'Change the model settings at once',
        description:
          'Validated (models in the catalog and priced; fallback differs from primary while enabled; the chain has no duplicates, starts with the fallback model and leaves out the primary; repair attempts 0-3; the cost cap empty or above 0) and written with a SETTINGS_UPDATED audit row. Keys left out keep their stored value, and a write of the fallback model moves the chain\'s first step with it. Workers pick the change up within 2 s. With If-Match (the ETag of GET), a save based on settings someone changed meanwhile is refused with 412, naming who changed them.',
        tags: ['admin'],
        security: SECURITY,
        body: settingsBodySchema,
        response: { 200: { description: 'Settings as now stored', ...settingsResponseSchema }, ...errorResponses(400, 401, 403, 412, 415, 503) },
      },
    },
    async (request, reply) => {
      const next = request.body;
      const [catalog, stored] = await guarded('postgres', t, () => Promise.all([o.settings.catalog.load(), o.settings.readRaw()]));
      const errors = settingsErrors(next, catalog, stored);
      if (errors.length > 0) throw new ApiError(400, 'INVALID_SETTINGS', `invalid settings: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, errors);
      const who = request.principal!.id;
      const ifMatch = request.headers['if-match'];
      try {
        await guarded('postgres', t, () => o.settings.update(next, who, ifMatch === undefined ? {} : { ifMatch }));
      } catch (err) {
        if (err instanceof SettingsConflictError) {
          throw new ApiError(412, 'PRECONDITION_FAILED', `${err.message}: reload them and save again`, { updatedBy: err.updatedBy, updatedAt: err.updatedAt?.toISOString() ?? null, etag: err.currentEtag }, { etag: err.currentEtag });
        }
        // A newly named model that is disabled or retired: the message names its replacement.
        if (!(err instanceof ConfigurationError)) throw err;
        const path = err.message.startsWith(SETTING_KEYS.fallbackModel) ? '/fallbackModel' : err.message.startsWith(SETTING_KEYS.fallbackChain) ? '/fallbackChain' : '/primaryModel';
        throw new ApiError(400, 'INVALID_SETTINGS', `invalid settings: ${path} ${err.message}`, [{ path, code: 'model_unavailable', message: err.message }]);
      }
      request.log.info({ principal: who, ...next }, 'settings updated');
      const view = await guarded('postgres', t, () => settingsView(o.settings));
      reply.header('etag', view.etag);
      return view;
    },
  );

  app.get(
    '/v1/admin/circuits',
    {
      schema: {
        operationId: 'getCircuits',
        summary: 'Each model’s circuit: closed, half-open or open',
        description: 'The circuit of every model in the catalog that is enabled or configured (primary and fallback chain), as the worker replicas share it through Redis. Open: requests skip the model; half-open: one probe call is testing it. See docs/models.md, "Circuit per model".',
        tags: ['admin'],
        security: SECURITY,
        response: { 200: { description: 'Circuits', ...circuitsResponseSchema }, ...errorResponses(401, 403, 503) },
      },
    },
    async () => {
      const [raw, catalog] = await guarded('postgres', t, () => Promise.all([o.settings.readRaw(), o.settings.catalog.load()]));
      const configured = [raw.primaryModel, ...(Array.isArray(raw.fallbackChain) ? raw.fallbackChain : [raw.fallbackModel])].filter((id): id is string => typeof id === 'string');
      const models = [...new Set([...configured, ...catalog.models.filter((m) => m.enabled).map((m) => m.id)])];
      const views = await guarded('redis', t, () => o.circuit.views(models));
      return { circuits: views.map((v) => ({ ...v, configured: configured.includes(v.model), openedAt: v.openedAt === null ? null : new Date(v.openedAt).toISOString() })) };
    },
  );

  app.get(
    '/v1/admin/catalog',
    {
      schema: {
        operationId: 'getCatalog',
        summary: 'The model catalog with each model’s cost per workflow',
        description: 'Costs are priced on the average usage of the last 30 days’ successful attempts when there are at least 20 of them (basis "measured"), else on a typical workflow of 2,500 input and 1,200 output tokens (basis "typical").',
        tags: ['admin'],
        security: SECURITY,
        response: { 200: { description: 'Catalog', ...catalogResponseSchema }, ...errorResponses(401, 403, 503) },
      },
    },
    async () => guarded('postgres', t, async () => catalogView(o.db, await o.settings.catalog.load())),
  );

  app.get<{ Querystring: { window?: StatsWindow; days?: '1' | '7' | '30' } }>(
    '/v1/admin/stats',
    {
      schema: {
        operationId: 'getStats',
        summary: 'Live figures over the last hour, 24 hours, 7 or 30 days',
        description: 'Fallback rate against the 5% target, validation pass rate per model against 95%, spend per generator and per model, cost per usable workflow, savings against sending everything to the fallback model, and the system flow counts.',
        tags: ['admin'],
        security: SECURITY,
        querystring: statsQuerySchema,
        response: { 200: { description: 'Figures', type: 'object' }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const window: StatsWindow = request.query.window ?? (request.query.days === '1' ? '24h' : request.query.days === '30' ? '30d' : '7d');
      const days = STATS_WINDOWS[window];
      const stored = await guarded('postgres', t, () => o.settings.readRaw());
      const models = await guarded('postgres', t, () => o.settings.catalog.load());
      let baselineModel = DEFAULT_SETTINGS.fallbackModel;
      try {
        baselineModel = resolveSettings(stored, models).fallbackModel;
      } catch {
        // Invalid stored settings: compare against the default fallback model.
      }
      const waitingNow = await waitingCounts(o.queues, Math.min(t, 1_000));
      const catalog = await guarded('postgres', t, () => catalogView(o.db, models));
      return guarded('postgres', t * 2, () => statsView({ db: o.db, days, window, baselineModel, waitingNow, catalog }));
    },
  );
}

/** Jobs not yet picked up in each queue; null when Redis does not answer in time. */
async function waitingCounts(queues: AdminRoutesOptions['queues'], timeoutMs: number): Promise<{ primary: number; fallback: number } | null> {
  const sum = (c: Record<string, number>) => (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0);
  try {
    const [p, f] = await guarded('redis', timeoutMs, () =>
      Promise.all([queues.primary.getJobCounts('waiting', 'prioritized', 'delayed'), queues.fallback.getJobCounts('waiting', 'prioritized', 'delayed')]),
    );
    return { primary: sum(p), fallback: sum(f) };
  } catch {
    return null;
  }
}

/** The console page, its login form and its assets. */
export async function adminPageRoutes(app: FastifyInstance, o: AdminRoutesOptions): Promise<void> {
  // The login form posts urlencoded fields; only this scope accepts them.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4_096 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(ADMIN_PAGE_HEADERS);
  });

  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);

  app.get('/admin', { schema: { hide: true } }, async (request, reply) => {
    let who: string;
    try {
      who = (await o.auth.authorize(request, 'admin')).id;
    } catch (err) {
      const e = toApiError(err);
      if (e.statusCode === 401) return reply.redirect('/admin/login', 303);
      throw err;
    }
    return html(reply, 200, consolePage({ authDisabled: o.auth.disabled, signedInAs: o.auth.disabled ? null : who }));
  });

  app.get('/admin/login', { schema: { hide: true } }, async (_request, reply) => {
    if (o.auth.disabled) return reply.redirect('/admin', 303);
    return html(reply, 200, loginPage(null));
  });

  app.post<{ Body: { token?: unknown } }>('/admin/login', { schema: { hide: true } }, async (request: FastifyRequest<{ Body: { token?: unknown } }>, reply) => {
    if (o.auth.disabled) return reply.redirect('/admin', 303);
    const redisWithin = <T,>(run: () => Promise<T>): Promise<T> => guarded('redis', Math.min(o.dependencyTimeoutMs, 1_000), run);
    try {
      const waitMs = await redisWithin(() => o.loginBackoff.waitMs(request.ip));
      if (waitMs > 0) {
        reply.header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))));
        return html(reply, 429, loginPage(`Too many failed attempts from this address: try again in ${Math.ceil(waitMs / 1000)} s.`));
      }
    } catch (err) {
      // Tokens are long random secrets: without Redis the login stays open rather than locking admins out.
      o.log.warn({ err: coerceError(err).message }, 'login backoff unavailable');
    }
    const token = typeof request.body?.token === 'string' ? request.body.token.trim() : '';
    const admin = token ? o.auth.adminOf(token) : null;
    if (!admin) {
      request.log.warn({ ip: request.ip }, 'admin login refused');
      await redisWithin(() => o.loginBackoff.failed(request.ip)).catch((err: unknown) => o.log.warn({ err: coerceError(err).message }, 'login backoff unavailable'));
      return html(reply, 401, loginPage('That is not an admin token.'));
    }
    await redisWithin(() => o.loginBackoff.succeeded(request.ip)).catch(() => {});
    const session = await o.auth.issueSession(admin);
    reply.header('set-cookie', sessionCookie(request, session.value, session.maxAgeS));
    request.log.info({ principal: admin.id }, 'admin logged in');
    return reply.redirect('/admin', 303);
  });

  app.post('/admin/logout', { schema: { hide: true } }, async (request, reply) => {
    // Revoked on the server: a copy of the cookie kept elsewhere stops working too.
    await o.auth.revokeSession(request);
    reply.header('set-cookie', sessionCookie(request, '', 0));
    return reply.redirect('/admin/login', 303);
  });

  // Browsers ask for it on every page; nothing to show.
  app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) => reply.code(204).send());

  app.get<{ Params: { name: string } }>('/admin/assets/:name', { schema: { hide: true } }, async (request, reply) => {
    const asset = adminAsset(request.params.name);
    if (!asset) throw new ApiError(404, 'NOT_FOUND', `no asset ${request.params.name}`);
    return reply.type(asset.contentType).header('cache-control', 'no-cache').header('etag', asset.etag).send(asset.body);
  });
}
