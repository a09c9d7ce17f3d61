/**
 * How a request that ended without a usable workflow says so across processes. The worker fails
 * its job with one of the errors below; the job's failed reason carries it as data:
 *
 *   GENERATION_FAILED: deadline_exceeded: the request's deadline of 600000 ms passed after 3 attempts
 *   {"code":"GENERATION_FAILED","reason":"deadline_exceeded","message":"GENERATION_FAILED: deadline_exceeded: …"}
 *
 * The first line is the message a plain BullMQ client in any language has always read (it starts
 * with the code, docs/api.md); the last line is the same failure as JSON, which readers parse
 * instead of matching text.
 */
import { OrchestratorError } from './errors.ts';

export const REQUEST_FAILURE_CODES = ['GENERATION_INVALID', 'GENERATION_FAILED', 'GENERATION_REJECTED'] as const;
export type RequestFailureCode = (typeof REQUEST_FAILURE_CODES)[number];

/** A request's ending as data: what crosses from the worker to its callers. */
export interface RequestFailure {
  readonly code: RequestFailureCode;
  /** A closed-set word: a validation kind, a call failure, or a REQUEST_FAILURE_REASONS value. */
  readonly reason: string;
  readonly message: string;
}

/** A request ended without a usable workflow; a subclass per code. */
export abstract class RequestEndedError extends OrchestratorError {
  declare readonly code: RequestFailureCode;
  readonly reason: string;

  protected constructor(code: RequestFailureCode, reason: string, detail: string, options?: { cause?: unknown }) {
    super(code, `${code}: ${detail}`, undefined, options);
    this.reason = reason;
  }

  toJSON(): RequestFailure {
    return { code: this.code, reason: this.reason, message: this.message };
  }

  /** The job's failed reason: the message, then the failure as JSON on the last line. */
  get failedReason(): string {
    return `${this.message}\n${JSON.stringify(this.toJSON())}`;
  }
}

/** GENERATION_INVALID: the last model's answer failed validation (`reason`: the failure kind). */
export class OutputInvalidError extends RequestEndedError {
  constructor(reason: string, errorCount: number, options?: { cause?: unknown }) {
    super('GENERATION_INVALID', reason, `validation failed (${errorCount} errors)`, options);
  }
}

/** GENERATION_FAILED: no model gave an answer (`reason`: the call failure, or why the request stopped). */
export class RequestFailedError extends RequestEndedError {
  constructor(reason: string, detail: string, options?: { cause?: unknown }) {
    super('GENERATION_FAILED', reason, detail, options);
  }
}

/** GENERATION_REJECTED: the job broke its contract; no model was called. */
export class RequestRejectedError extends RequestEndedError {
  constructor(reason: string, detail: string, options?: { cause?: unknown }) {
    super('GENERATION_REJECTED', reason, detail, options);
  }
}

/** The failure a job's failed reason carries, or null when it failed on something else. */
export function parseRequestFailure(failedReason: string | null | undefined): RequestFailure | null {
  if (!failedReason) return null;
  const last = failedReason.slice(failedReason.lastIndexOf('\n') + 1);
  let data: unknown;
  try {
    data = JSON.parse(last);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  const { code, reason, message } = data as Record<string, unknown>;
  if (!(REQUEST_FAILURE_CODES as readonly unknown[]).includes(code) || typeof reason !== 'string' || typeof message !== 'string') return null;
  return { code: code as RequestFailureCode, reason, message };
}
