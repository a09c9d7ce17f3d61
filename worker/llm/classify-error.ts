/**
 * Maps whatever an SDK threw to the closed set of call failures. Both SDKs share the same error
 * hierarchy shape (status, headers), so one function serves both.
 */
import { NO_USAGE } from '../../shared/money.ts';
import type { LlmFailure } from './llm-client.ts';

interface SdkErrorShape {
  status?: unknown;
  headers?: unknown;
  message?: unknown;
  name?: unknown;
  /** OpenAI: the error's `code` (insufficient_quota, model_not_found) and `type`. */
  code?: unknown;
  type?: unknown;
  /** The error body: OpenAI's `error` object, or Anthropic's `{type: 'error', error: {type, message}}`. */
  error?: unknown;
}

/** Every code, type and message the vendor put in the error, lower-cased, for matching. */
function errorText(e: SdkErrorShape, message: string): string {
  const parts = [message, e.code, e.type];
  const body = e.error as Record<string, unknown> | undefined;
  if (body && typeof body === 'object') {
    parts.push(body.code, body.type, body.message);
    const inner = body.error as Record<string, unknown> | undefined;
    if (inner && typeof inner === 'object') parts.push(inner.code, inner.type, inner.message);
  }
  return parts.filter((p): p is string => typeof p === 'string').join(' ').toLowerCase();
}

/** Billing, not pacing: OpenAI's insufficient_quota 429, Anthropic's credit-balance refusal. */
const QUOTA = /insufficient_quota|exceeded your current quota|credit balance is too low|billing_hard_limit|billing.*(limit|inactive)|payment required/;
/** The model is gone for this key: unknown, retired, deprecated or decommissioned. */
const MODEL_GONE = /model_not_found|(model\b.*\b(does not exist|not found|not_found|has been (deprecated|retired|decommissioned)|no longer (available|supported)|is not available))/;

function header(headers: unknown, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const v = (headers as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : null;
}

/** retry-after-ms (OpenAI, Anthropic) wins over retry-after (seconds or an HTTP date). */
export function retryAfterMs(headers: unknown, now: number = Date.now()): number | null {
  const ms = header(headers, 'retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms));
  const ra = header(headers, 'retry-after');
  if (!ra) return null;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.ceil(Number(ra) * 1000);
  const date = Date.parse(ra);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export function classifyCallError(err: unknown, ctx: { timedOut: boolean; shutdown: boolean }): LlmFailure {
  const e = (err ?? {}) as SdkErrorShape;
  const message = withRootCause(typeof e.message === 'string' ? e.message : String(err), err);
  const name = typeof e.name === 'string' ? e.name : '';
  const status = typeof e.status === 'number' ? e.status : null;
  const base = { kind: 'failure' as const, message, httpStatus: status, retryAfterMs: null, usage: NO_USAGE, aborted: false };
  if (ctx.shutdown) return { ...base, outcome: 'api_error', message: 'aborted by shutdown', aborted: true };
  if (ctx.timedOut || name === 'APIConnectionTimeoutError') return { ...base, outcome: 'timeout', message: ctx.timedOut ? 'attempt timed out' : message };
  const text = status !== null && status < 500 ? errorText(e, message) : '';
  if (status !== null && status < 500 && QUOTA.test(text)) return { ...base, outcome: 'quota_exhausted' };
  if (status === 429) return { ...base, outcome: 'rate_limit', retryAfterMs: retryAfterMs(e.headers) };
  if (status === 401 || status === 403) return { ...base, outcome: 'auth_error' };
  if (status === 404 || status === 410 || (status === 400 && MODEL_GONE.test(text))) return { ...base, outcome: 'model_unavailable' };
  // A request the vendor will refuse again, whatever the pause: never retried on that model.
  if (status === 400 || status === 413 || status === 422) return { ...base, outcome: 'bad_request' };
  if (status !== null && (status >= 500 || status === 408 || status === 409)) {
    return { ...base, outcome: 'api_error', retryAfterMs: retryAfterMs(e.headers) };
  }
  return { ...base, outcome: 'api_error' };
}

/**
 * The SDKs report every network failure as "Connection error." and keep what happened in
 * `cause` (fetch's TypeError, and under it the socket error or the size limit): name it.
 */
function withRootCause(message: string, err: unknown): string {
  let cause: unknown = err instanceof Error ? err.cause : undefined;
  let root: Error | null = null;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++) {
    root = cause;
    cause = cause.cause;
  }
  return root && root.message && !message.includes(root.message) ? `${message} (${root.message})` : message;
}
