/**
 * Typed errors with stable codes. Every catch normalises what it caught with coerceError, so
 * the rest of the code deals with one shape.
 */
export type ErrorCode =
  | 'INVALID_REQUEST'
  | 'INVALID_CONFIG'
  | 'INVALID_AMOUNT'
  | 'UNKNOWN_MODEL'
  | 'MODEL_UNPRICED'
  | 'INVALID_SETTINGS'
  | 'GENERATION_INVALID'
  | 'GENERATION_FAILED'
  | 'GENERATION_REJECTED'
  | 'WAIT_TIMEOUT'
  | 'NOT_FOUND'
  | 'REQUEST_ROW_MISSING'
  | 'INTERNAL';

export interface FieldError {
  /** JSON pointer to the offending value ('' for the whole document). */
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

export class OrchestratorError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(
    code: ErrorCode,
    message: string,
    details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.details = details;
    this.name = new.target.name;
  }
}

/** A request that breaks the job contract; `errors` names each bad field. */
export class InvalidRequestError extends OrchestratorError {
  readonly errors: readonly FieldError[];

  constructor(errors: readonly FieldError[]) {
    super('INVALID_REQUEST', `invalid generation request: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`, errors);
    this.errors = errors;
  }
}

/** Bad configuration (environment, settings, catalog); the message names the culprit. */
export class ConfigurationError extends OrchestratorError {
  constructor(code: 'INVALID_CONFIG' | 'INVALID_AMOUNT' | 'UNKNOWN_MODEL' | 'MODEL_UNPRICED' | 'INVALID_SETTINGS', message: string) {
    super(code, message);
  }
}

/**
 * A write that needs the request's row found none: the row written at pick-up was lost (it is
 * committed without waiting for the disk, so a database crash right after it can drop it).
 * Whoever holds the request writes it again and repeats the write.
 */
export class RequestRowMissingError extends OrchestratorError {
  readonly jobId: string;

  constructor(jobId: string, operation: string) {
    super('REQUEST_ROW_MISSING', `${operation}(${jobId}): the request's workflow_generations row is missing`);
    this.jobId = jobId;
  }
}

/** Anything caught, as an Error; a thrown non-Error is kept as the `cause`, so nothing is lost. */
export function coerceError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'string') return new Error(err, { cause: err });
  let message: string;
  try {
    message = JSON.stringify(err) ?? String(err);
  } catch {
    message = String(err);
  }
  return new Error(message, { cause: err });
}
