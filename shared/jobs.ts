/**
 * The job catalog: every kind of job on the queues, with its queue, job name, JSON Schema,
 * compiled validator, derived TypeScript type, options and retry policy. Producer and worker use
 * the same entry, so a job's name and the shape of its data cannot drift apart.
 *
 * The `generate` entry is also the raw queue contract: a service in another language enqueues
 * with a plain BullMQ client using exactly this queue, name, data and id rule (docs/api.md).
 */
import type { FromSchema } from 'json-schema-to-ts';
import { ajv, describePattern, toFieldErrors } from './ajv.ts';
import { InvalidRequestError } from './errors.ts';
import { HANDOVER_REASONS, type HandoverReason } from './outcomes.ts';

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

/**
 * The one rule for request (job) ids, wherever one is made or read: the HTTP API's routes, the
 * library and the worker. BullMQ forbids ':' in them, and ids end up in URLs and logs.
 */
export const JOB_ID_MAX_LENGTH = 128;
export const JOB_ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;
export const jobIdSchema = { type: 'string', minLength: 1, maxLength: JOB_ID_MAX_LENGTH, pattern: '^[A-Za-z0-9_.-]+$' } as const;
export const JOB_ID_RULE = `1-${JOB_ID_MAX_LENGTH} characters of A-Z, a-z, 0-9, '_', '.' and '-'`;

export function isValidJobId(id: unknown): id is string {
  return typeof id === 'string' && JOB_ID_PATTERN.test(id);
}

/** The fallback job's id derives from the original, so a retried primary can never enqueue two. */
export function fallbackJobId(originJobId: string): string {
  return `${originJobId}-fallback`;
}

/**
 * The job of ladder step `step` (1: the fallback, k: the chain's k-th model), derived from the
 * origin id and k, so a retried step can never enqueue the next one twice. Step 1 keeps the
 * fallback job's id.
 */
export function stepJobId(originJobId: string, step: number): string {
  return step <= 1 ? fallbackJobId(originJobId) : `${originJobId}-step-${step}`;
}

/** The origin id of a step job's id (`<id>-fallback`, `<id>-step-<k>`), or null for any other id. */
export function originOfStepJobId(jobId: string): string | null {
  const m = /^(.+)-(?:fallback|step-\d+)$/.exec(jobId);
  return m ? m[1]! : null;
}

/** The fallback-tagged job a primary job hands over: written by the worker only, still checked. */
export const fallbackJobSchema = {
  $id: 'https://workflow-orchestrator.dev/schemas/fallback-job.json',
  title: 'FallbackJobData',
  type: 'object',
  additionalProperties: false,
  required: ['originJobId', 'request', 'reason', 'primaryModel', 'fallbackModel', 'enqueuedAt', 'handedOverAt'],
  properties: {
    originJobId: { type: 'string', minLength: 1 },
    // By $id: the request schema is compiled into the shared Ajv instance above.
    request: { $ref: generationRequestSchema.$id },
    /** Why the primary was not used. */
    reason: { enum: HANDOVER_REASONS },
    /** The model that handed over, and the one this job calls (step 1: the primary and the fallback). */
    primaryModel: { type: 'string' },
    fallbackModel: { type: 'string' },
    /** The ladder step this job runs; absent: 1 (jobs written before the chain). */
    step: { type: 'integer', minimum: 1 },
    /** When the original request was enqueued (ms since epoch). */
    enqueuedAt: { type: 'number' },
    handedOverAt: { type: 'number' },
  },
} as const;

export type FallbackJobData = Omit<FromSchema<typeof fallbackJobSchema, { references: [typeof generationRequestSchema] }>, 'reason'> & { readonly reason: HandoverReason };

/**
 * Retries BullMQ makes of a job that threw something other than a recorded outcome: they cover
 * infrastructure (Redis, Postgres, a crash), never model failures, which the worker's policy
 * decides on its own (worker/processor/policy.ts).
 */
export interface InfrastructureRetry {
  readonly attempts: number;
  readonly backoff: { readonly type: 'exponential'; readonly delay: number };
}

export interface JobKind<T> {
  readonly queue: string;
  readonly name: string;
  readonly schema: { readonly $id: string };
  /** Checks untrusted data; throws InvalidRequestError naming each bad field. */
  parse(data: unknown): T;
  /** Options every job of this kind is added with: the retry policy and how long results stay. */
  readonly options: InfrastructureRetry & {
    readonly removeOnComplete: { readonly age: number; readonly count: number };
    readonly removeOnFail: { readonly age: number };
  };
}

const INFRASTRUCTURE_RETRY: InfrastructureRetry = { attempts: 8, backoff: { type: 'exponential', delay: 1_000 } };
const JOB_OPTIONS = {
  ...INFRASTRUCTURE_RETRY,
  removeOnComplete: { age: 24 * 3600, count: 50_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;

const validateFallback = ajv.compile<FallbackJobData>(fallbackJobSchema);

/** The catalog. `generate` is the public contract; `generateFallback` is internal to the worker. */
export const JOBS = {
  generate: {
    queue: 'workflow-generation',
    name: 'generate',
    schema: generationRequestSchema,
    parse: parseGenerationRequest,
    options: JOB_OPTIONS,
  } satisfies JobKind<GenerationRequest>,
  generateFallback: {
    queue: 'workflow-generation-fallback',
    name: 'generate-fallback',
    schema: fallbackJobSchema,
    parse(data: unknown): FallbackJobData {
      if (validateFallback(data)) return data;
      throw new InvalidRequestError(toFieldErrors(validateFallback.errors));
    },
    options: JOB_OPTIONS,
  } satisfies JobKind<FallbackJobData>,
} as const;

export const PRIMARY_QUEUE = JOBS.generate.queue;
export const FALLBACK_QUEUE = JOBS.generateFallback.queue;
export const GENERATE_JOB = JOBS.generate.name;
export const GENERATE_FALLBACK_JOB = JOBS.generateFallback.name;
/** Options of a request job; the raw contract recommends the same (docs/api.md). */
export const PRIMARY_JOB_OPTIONS = JOBS.generate.options;
export const parseFallbackJobData = JOBS.generateFallback.parse;
