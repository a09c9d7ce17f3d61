/**
 * The model catalog's admin API: list, create or replace, delete (only a model no attempt
 * names; disable the others). Registered inside the admin scope, behind the admin token.
 */
import type { FastifyInstance } from 'fastify';
import { CatalogConflictError, type CatalogStore } from '../../db/catalog-store.ts';
import { InvalidModelError, MODEL_DOCUMENT_FIELDS, modelDocument } from '../../shared/model-catalog-input.ts';
import { unavailability } from '../../shared/models.ts';
import { guarded } from '../dependencies.ts';
import { ApiError } from '../errors.ts';
import { errorResponses } from '../schemas.ts';

export interface ModelRoutesOptions {
  readonly catalog: CatalogStore;
  readonly dependencyTimeoutMs: number;
  readonly security: { [scheme: string]: string[] }[];
}

/** What GET adds to a row; a row read with GET can be sent back as it is. */
const READ_ONLY_FIELDS = ['status', 'updated_at', 'updated_by'] as const;

// Unknown fields are refused by the catalog's own parser, as INVALID_MODEL naming each one.
const modelSchema = {
  type: 'object',
  additionalProperties: true,
  properties: Object.fromEntries([...MODEL_DOCUMENT_FIELDS, ...READ_ONLY_FIELDS].map((f) => [f, {}])),
  description: 'One catalog row. Prices are exact decimal strings in USD per 1M tokens; dates are YYYY-MM-DD or ISO timestamps; api_key_env is the NAME of an environment variable. status, updated_at and updated_by (as GET returns them) are ignored.',
} as const;

function withoutReadOnly(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const f of READ_ONLY_FIELDS) delete copy[f];
  return copy;
}

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 100 } } } as const;

function entryView(e: Awaited<ReturnType<CatalogStore['entries']>>[number], now: Date) {
  return { ...modelDocument(e.model), status: unavailability(e.model, now) ?? 'available', updated_at: e.updatedAt.toISOString(), updated_by: e.updatedBy };
}

function invalid(err: InvalidModelError): ApiError {
  return new ApiError(400, 'INVALID_MODEL', `invalid model: ${err.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, err.errors);
}

export function modelRoutes(app: FastifyInstance, o: ModelRoutesOptions): void {
  const t = o.dependencyTimeoutMs;
  app.get(
    '/v1/admin/models',
    {
      schema: {
        summary: 'The model catalog, every row with its lifecycle status',
        operationId: 'listModels',
        tags: ['admin'],
        security: o.security,
        response: { 200: { description: 'Catalog rows', type: 'object', properties: { models: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...errorResponses(401, 403, 503) },
      },
    },
    async () => {
      const entries = await guarded('postgres', t, () => o.catalog.entries());
      const now = new Date();
      return { models: entries.map((e) => entryView(e, now)) };
    },
  );

  app.put<{ Params: { id: string }; Body: unknown }>(
    '/v1/admin/models/:id',
    {
      schema: {
        summary: 'Create or replace one model',
        operationId: 'putModel',
        description: 'Validated; a bad field gets a 400 naming it and nothing is stored. Each change writes a MODEL_CATALOG_UPDATED audit row with old, new and who. Workers pick the change up within 2 s.',
        tags: ['admin'],
        security: o.security,
        params: idParams,
        body: modelSchema,
        response: { 200: { description: 'Replaced', type: 'object', additionalProperties: true }, 201: { description: 'Created', type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 415, 503) },
      },
    },
    async (request, reply) => {
      const who = request.principal!.id;
      let created: boolean;
      try {
        ({ created } = await guarded('postgres', t, () => o.catalog.put(request.params.id, withoutReadOnly(request.body), who)));
      } catch (err) {
        if (err instanceof InvalidModelError) throw invalid(err);
        throw err;
      }
      request.log.info({ principal: who, model: request.params.id, created }, 'model catalog updated');
      const entry = (await guarded('postgres', t, () => o.catalog.entries())).find((e) => e.model.id === request.params.id)!;
      return reply.code(created ? 201 : 200).send(entryView(entry, new Date()));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/admin/models/:id',
    {
      schema: {
        summary: 'Delete a model no attempt names',
        operationId: 'deleteModel',
        description: 'A model with recorded attempts cannot be deleted (history must stay readable): set enabled to false instead (409 MODEL_IN_USE).',
        tags: ['admin'],
        security: o.security,
        params: idParams,
        response: { 204: { description: 'Deleted', type: 'null' }, ...errorResponses(401, 403, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      let deleted: boolean;
      try {
        deleted = await guarded('postgres', t, () => o.catalog.delete(request.params.id, request.principal!.id));
      } catch (err) {
        if (err instanceof CatalogConflictError) throw new ApiError(409, 'MODEL_IN_USE', err.message);
        throw err;
      }
      if (!deleted) throw new ApiError(404, 'NOT_FOUND', `no model ${request.params.id} in the catalog`);
      return reply.code(204).send();
    },
  );
}
