/**
 * The JSON Schemas of the HTTP API. Requests use the worker's own job contract; responses embed
 * the worker's workflow schema. They feed the OpenAPI document, and the tests check every
 * response against them.
 */
import { generationRequestSchema, jobIdSchema } from '../shared/jobs.ts';
import { ATTEMPT_OUTCOMES } from '../shared/outcomes.ts';
import { workflowSchema } from '../shared/workflow-schema.ts';
import { errorBodySchema, fieldErrorSchema } from './errors.ts';

export { generationRequestSchema, workflowSchema };

export const API_STATUSES = ['queued', 'active', 'succeeded', 'invalid', 'failed', 'rejected'] as const;
export type ApiStatus = (typeof API_STATUSES)[number];

export const STAGES = ['queued', 'primary_started', 'validating', 'fallback_enqueued', 'fallback_started', 'finished'] as const;
export type Stage = (typeof STAGES)[number];

const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });
const FAILURE_REASONS = ATTEMPT_OUTCOMES.filter((o) => o !== 'ok');

/** The finished request: the same object the producer library returns and the job carries. */
export const generationResultSchema = {
  $id: 'https://workflow-orchestrator.dev/schemas/generation-result.json',
  title: 'GenerationResult',
  type: 'object',
  required: [
    'job_id', 'status', 'workflow', 'pilot_steps', 'steps_generated', 'generator_used', 'primary_model', 'fallback_reason', 'validation_passed',
    'validation_errors', 'failure_reason', 'attempts', 'tokens', 'cost_usd', 'cost_usd_exact', 'generation_time_ms',
  ],
  properties: {
    job_id: { type: 'string' },
    status: { type: 'string', enum: ['succeeded', 'invalid', 'failed', 'rejected'] },
    workflow: nullable({ $ref: workflowSchema.$id }),
    pilot_steps: nullable({ type: 'array', items: { type: 'object' } }),
    steps_generated: { type: 'integer', minimum: 0 },
    generator_used: nullable({ type: 'string', description: 'The model whose answer is the result.' }),
    primary_model: nullable({ type: 'string' }),
    fallback_reason: nullable({ type: 'string', enum: FAILURE_REASONS, description: 'Why the primary was not used; null when it produced the result.' }),
    validation_passed: nullable({ type: 'boolean' }),
    validation_errors: nullable({ type: 'array', items: fieldErrorSchema }),
    failure_reason: nullable({ type: 'string' }),
    attempts: { type: 'integer', minimum: 0 },
    tokens: {
      type: 'object',
      required: ['input', 'output', 'cached_input', 'cache_write', 'total'],
      properties: {
        input: { type: 'integer' },
        output: { type: 'integer' },
        cached_input: { type: 'integer' },
        cache_write: { type: 'integer' },
        total: { type: 'integer' },
      },
    },
    cost_usd: { type: 'number', description: 'All attempts of the request, wasted ones included.' },
    cost_usd_exact: { type: 'string', pattern: '^\\d+\\.\\d{12}$', description: 'The same amount as an exact decimal string.' },
    generation_time_ms: nullable({ type: 'integer' }),
  },
} as const;

export const enqueueResponseSchema = {
  type: 'object',
  required: ['id', 'status'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', description: 'The request id: the primary queue job id.' },
    status: { type: 'string', enum: [...API_STATUSES] },
  },
} as const;

const isoTime = nullable({ type: 'string', format: 'date-time' });

export const generationStatusSchema = {
  type: 'object',
  required: ['id', 'status', 'stage', 'queue', 'fallbackJobId', 'fallbackReason', 'result', 'error', 'timings'],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: [...API_STATUSES] },
    stage: { type: 'string', enum: [...STAGES], description: 'The last stage the request reached.' },
    queue: nullable({ type: 'string', enum: ['primary', 'fallback'], description: 'Where an unfinished request is.' }),
    fallbackJobId: nullable({ type: 'string', description: 'The job of the fallback step that carries a handed-over request: `<id>-fallback`, or `<id>-step-<k>` on a later step of the fallback chain.' }),
    fallbackReason: nullable({ type: 'string', enum: FAILURE_REASONS }),
    result: nullable({ $ref: generationResultSchema.$id }),
    error: nullable({ type: 'string', description: 'Why a request failed without a stored result (infrastructure errors).' }),
    timings: {
      type: 'object',
      required: ['enqueuedAt', 'startedAt', 'finishedAt', 'generationTimeMs'],
      additionalProperties: false,
      properties: { enqueuedAt: isoTime, startedAt: isoTime, finishedAt: isoTime, generationTimeMs: nullable({ type: 'integer' }) },
    },
  },
} as const;

export const generationIdParamsSchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: jobIdSchema },
} as const;

export const circuitsResponseSchema = {
  type: 'object',
  required: ['circuits'],
  additionalProperties: false,
  properties: {
    circuits: {
      type: 'array',
      items: {
        type: 'object',
        required: ['model', 'state', 'calls', 'failures', 'openedAt', 'configured'],
        additionalProperties: false,
        properties: {
          model: { type: 'string' },
          state: { type: 'string', enum: ['closed', 'half_open', 'open'] },
          calls: { type: 'integer', description: 'Calls counted in the last 60 s.' },
          failures: { type: 'integer', description: 'Of those, call failures.' },
          openedAt: nullable({ type: 'string', format: 'date-time' }),
          configured: { type: 'boolean', description: 'The primary or a step of the fallback chain.' },
        },
      },
    },
  },
} as const;

export const settingsBodySchema = {
  type: 'object',
  required: ['primaryModel', 'enableFallback'],
  // The seed's three keys stay required; a write that gives the chain names its first step there.
  if: { not: { properties: { fallbackChain: true }, required: ['fallbackChain'] } },
  then: { properties: { fallbackModel: true }, required: ['fallbackModel'] },
  additionalProperties: false,
  properties: {
    primaryModel: { type: 'string', minLength: 1, maxLength: 64, description: 'A model id from the catalog.' },
    fallbackModel: { type: 'string', minLength: 1, maxLength: 64, description: 'A model id from the catalog; differs from the primary while fallback is on. The first step of fallbackChain. Required unless fallbackChain is given.' },
    enableFallback: { type: 'boolean' },
    fallbackChain: {
      type: 'array',
      minItems: 1,
      maxItems: 5,
      items: { type: 'string', minLength: 1, maxLength: 64 },
      description: 'Catalog models tried in order after the primary; the first is the fallback model. Left out: the stored chain with fallbackModel as its first step.',
    },
    repairAttempts: { type: 'integer', description: 'How often (0-3) a model is re-asked with its own validation errors before the ladder moves on. Left out: unchanged.' },
    maxCostPerRequestUsd: {
      type: ['string', 'number', 'null'],
      maxLength: 32,
      description: 'The worst-case USD a request may reach; a step that could pass it is not started. Null or "": no cap. Left out: unchanged.',
    },
  },
} as const;

export const settingsResponseSchema = {
  type: 'object',
  required: ['settings', 'valid', 'problem', 'updatedAt', 'updatedBy'],
  additionalProperties: false,
  properties: {
    settings: {
      type: 'object',
      required: ['primaryModel', 'fallbackModel', 'enableFallback'],
      properties: { primaryModel: {}, fallbackModel: {}, enableFallback: {} },
      description: 'The stored values (defaults for missing keys). Raw when invalid: see `valid` and `problem`.',
    },
    ladder: {
      type: 'object',
      required: ['fallbackChain', 'repairAttempts', 'maxCostPerRequestUsd'],
      properties: { fallbackChain: {}, repairAttempts: {}, maxCostPerRequestUsd: {} },
      description: 'The escalation ladder as stored (PUT takes these keys beside the others): the models tried after the primary (the first is fallbackModel), the repair attempts, and the cost cap in USD (null: none).',
    },
    valid: { type: 'boolean', description: 'False when the stored values do not resolve; workers keep the last good settings.' },
    etag: { type: 'string', description: 'The version of the stored settings (also the ETag header): send it as If-Match with PUT.' },
    problem: nullable({ type: 'string' }),
    updatedAt: isoTime,
    updatedBy: nullable({ type: 'string' }),
    lifecycle: {
      type: 'array',
      description: 'Each configured model the vendor has retired or will retire within 30 days, with its replacement.',
      items: {
        type: 'object',
        required: ['role', 'model', 'shutdownAt', 'retired', 'daysLeft', 'replacementId'],
        properties: {
          role: { type: 'string', enum: ['primary', 'fallback'] },
          model: { type: 'string' },
          shutdownAt: { type: 'string', format: 'date-time' },
          retired: { type: 'boolean' },
          daysLeft: { type: 'integer' },
          replacementId: nullable({ type: 'string' }),
          replacementLabel: nullable({ type: 'string' }),
        },
      },
    },
  },
} as const;

const usageSchema = {
  type: 'object',
  required: ['inputTokens', 'outputTokens', 'cachedInputTokens', 'cacheWriteTokens'],
  properties: { inputTokens: { type: 'number' }, outputTokens: { type: 'number' }, cachedInputTokens: { type: 'number' }, cacheWriteTokens: { type: 'number' } },
} as const;

export const catalogResponseSchema = {
  type: 'object',
  required: ['basis', 'sampleSize', 'windowDays', 'usage', 'models'],
  additionalProperties: false,
  properties: {
    basis: { type: 'string', enum: ['measured', 'typical'], description: 'measured: the average usage of successful attempts over the window; typical: a fixed typical workflow.' },
    sampleSize: { type: 'integer' },
    windowDays: { type: 'integer' },
    usage: usageSchema,
    models: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'label', 'provider', 'description', 'pricing', 'costPerWorkflowUsd', 'costPerWorkflowExact'],
        properties: {
          id: { type: 'string' },
          label: { type: 'string' },
          provider: { type: 'string' },
          description: { type: 'string' },
          pricing: { type: 'object' },
          contextWindowTokens: { type: 'integer' },
          maxOutputTokens: { type: 'integer' },
          costPerWorkflowUsd: { type: 'number' },
          costPerWorkflowExact: { type: 'string' },
          enabled: { type: 'boolean' },
          deprecatedAt: nullable({ type: 'string' }),
          shutdownAt: nullable({ type: 'string' }),
          replacementId: nullable({ type: 'string' }),
          costBasis: { type: 'string', enum: ['measured', 'estimate'], description: "measured: the model's own average cost per successful attempt over the window; estimate: its catalog prices on `usage`." },
          measuredSamples: { type: 'integer', description: "The model's successful attempts in the window." },
        },
      },
    },
  },
} as const;

export const statsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    window: { type: 'string', enum: ['1h', '24h', '7d', '30d'], description: 'The window: the last hour, 24 hours, 7 or 30 days (default 7d).' },
    days: { type: 'string', enum: ['1', '7', '30'], description: 'The window in days, as before `window` existed; `window` wins when both are given.' },
  },
} as const;

export { errorBodySchema };

/** Standard error responses, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, unknown> {
  const descriptions: Record<number, string> = {
    400: 'Invalid request: details name each bad field',
    401: 'Missing or unknown token',
    403: "The other role's token",
    404: 'Not found',
    409: 'Idempotency key reused with a different request',
    412: 'If-Match does not name the current version: someone changed it meanwhile (details say who)',
    413: 'Body over 64 KiB',
    415: 'Content type is not application/json',
    429: 'Rate limit reached: see retry-after',
    503: 'Redis or Postgres unavailable',
  };
  return Object.fromEntries(statuses.map((s) => [s, { description: descriptions[s] ?? 'Error', ...errorBodySchema }]));
}
