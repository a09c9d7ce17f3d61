/** The OpenAPI document at /docs/json and Swagger UI at /docs, with its assets served locally. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { generationResultSchema, workflowSchema } from './schemas.ts';

/** Registers the document generator; must run before the routes it describes. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  // Shared schemas the route schemas point at by $id; they become components of the document.
  for (const s of [workflowSchema, generationResultSchema]) app.addSchema(s);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Workflow orchestrator producer API',
        version: '1.0.0',
        description:
          'Enqueue workflow generation requests, follow them, read their results; change the orchestrator model settings. ' +
          'Errors always have the shape `{ "error": { "code", "message", "details"? } }`.',
        // The project is private (package.json); say so rather than leave a client guessing.
        license: { name: 'Proprietary: internal use only', identifier: 'LicenseRef-Proprietary' },
      },
      // Relative: the document describes the producer that serves it, wherever it is deployed.
      servers: [{ url: '/', description: 'The producer serving this document' }],
      tags: [
        { name: 'generations', description: 'Workflow generation requests (API token)' },
        { name: 'admin', description: 'Settings and live figures (admin token or admin session)' },
        { name: 'operations', description: 'Health, readiness and metrics (open)' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from PRODUCER_API_TOKENS (API routes), or an admin token from ADMIN_API_TOKENS or ADMIN_API_TOKEN (admin routes).' },
          adminSession: { type: 'apiKey', in: 'cookie', name: 'wo_admin_session', description: 'Set by the login form at /admin/login.' },
        },
      },
    },
    refResolver: {
      // Components named after the schema titles instead of def-0, def-1.
      buildLocalReference(json, _baseUri, _fragment, i) {
        return typeof json.title === 'string' ? json.title : `def-${i}`;
      },
    },
  });
}

/** Serves Swagger UI; after the routes are registered. */
export async function registerDocsUi(app: FastifyInstance): Promise<void> {
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, validatorUrl: null },
    staticCSP: true,
  });
}
