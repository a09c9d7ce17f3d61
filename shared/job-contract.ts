/**
 * The job contract: what a producer (library, HTTP API or a plain BullMQ client in any language)
 * puts on the queue. Defined once as a JSON Schema; the TypeScript type is derived from it.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { ajv, describePattern, toFieldErrors } from './ajv.ts';
import { InvalidRequestError } from './errors.ts';

/**
 * No control characters (NUL included) in ids and keys, and no lone UTF-16 surrogates anywhere:
 * they are not text (Postgres refuses them in jsonb) and usually mean a broken encoder upstream.
 */
const PRINTABLE_ID = describePattern('^[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]+$', 'must not contain control characters or invalid Unicode');
const TEXT = describePattern('^[^\\u0000\\ud800-\\udfff]*$', 'must not contain NUL bytes or invalid Unicode');
const NOT_BLANK = describePattern('\\S', 'must not be blank');

/** Bounds of a request's `deadlineMs`: a second, and a day. */
export const MIN_DEADLINE_MS = 1_000;
export const MAX_DEADLINE_MS = 86_400_000;

export const pluginKeySchema = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
  description: 'Plugin key, such as "google-mail" or "slack".',
} as const;

export const generationRequestSchema = {
  $id: 'https://workflow-orchestrator.dev/schemas/generation-request.json',
  title: 'GenerationRequest',
  type: 'object',
  additionalProperties: false,
  required: ['userId', 'agentId', 'userGoal', 'availablePlugins'],
  properties: {
    userId: { type: 'string', minLength: 1, maxLength: 128, pattern: PRINTABLE_ID },
    agentId: { type: 'string', minLength: 1, maxLength: 128, pattern: PRINTABLE_ID },
    userGoal: {
      type: 'string',
      minLength: 1,
      maxLength: 4000,
      // Two linear patterns rather than one that backtracks on long runs of whitespace: no NUL
      // bytes or lone surrogates, and at least one character that is not whitespace.
      allOf: [{ pattern: TEXT }, { pattern: NOT_BLANK }],
      description: 'What the user wants the agent to do, in their words.',
    },
    availablePlugins: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: {
        anyOf: [
          pluginKeySchema,
          {
            type: 'object',
            additionalProperties: false,
            required: ['key'],
            properties: {
              key: pluginKeySchema,
              actions: {
                type: 'array',
                maxItems: 100,
                uniqueItems: true,
                items: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' },
              },
              description: { type: 'string', maxLength: 500, pattern: TEXT },
            },
          },
        ],
      },
    },
    idempotencyKey: { type: 'string', minLength: 1, maxLength: 255, pattern: PRINTABLE_ID },
    deadlineMs: {
      type: 'integer',
      minimum: MIN_DEADLINE_MS,
      maximum: MAX_DEADLINE_MS,
      description: "How long the request may take, from its enqueue, in ms: transient failures are retried until then. Default: the worker's REQUEST_DEADLINE_MS (10 minutes).",
    },
  },
} as const;

export type GenerationRequest = FromSchema<typeof generationRequestSchema>;
export type PluginOffer = GenerationRequest['availablePlugins'][number];

const validateRequest = ajv.compile<GenerationRequest>(generationRequestSchema);

/** Checks untrusted data against the contract; throws InvalidRequestError naming each bad field. */
export function parseGenerationRequest(data: unknown): GenerationRequest {
  if (validateRequest(data)) return data;
  const errors = toFieldErrors(validateRequest.errors);
  // anyOf failures list every branch; keep the message short but complete.
  throw new InvalidRequestError(errors.length > 0 ? errors : [{ path: '', code: 'type', message: 'must be an object' }]);
}

/** Plugins as a map from key to the actions the request allows (null: any action). */
export function pluginAllowList(plugins: readonly PluginOffer[]): Map<string, ReadonlySet<string> | null> {
  const allowed = new Map<string, ReadonlySet<string> | null>();
  for (const p of plugins) {
    if (typeof p === 'string') allowed.set(p, null);
    else allowed.set(p.key, p.actions && p.actions.length > 0 ? new Set(p.actions) : null);
  }
  return allowed;
}
