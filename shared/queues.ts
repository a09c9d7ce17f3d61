/**
 * The raw queue contract, shared by producer and worker: queue names, job names and job id rules.
 * A service in another language enqueues with a plain BullMQ client using exactly these.
 */
export const PRIMARY_QUEUE = 'workflow-generation';
export const FALLBACK_QUEUE = 'workflow-generation-fallback';
export const GENERATE_JOB = 'generate';
export const GENERATE_FALLBACK_JOB = 'generate-fallback';

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

/** Default options for primary jobs: retries cover infrastructure errors (Redis, Postgres), not model failures. */
export const PRIMARY_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 24 * 3600, count: 50_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;
