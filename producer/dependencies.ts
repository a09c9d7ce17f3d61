/**
 * Calls to Redis and Postgres on behalf of a request: bounded in time, and their failures turned
 * into a 503 that says which dependency is away, instead of a hang or an anonymous 500.
 */
import type { Redis } from 'ioredis';
import { coerceError } from '../shared/errors.js';
import { ApiError } from './errors.js';

export type Dependency = 'redis' | 'postgres';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', '57P01', '57P03',
]);
const CONNECTION_MESSAGES = /Stream isn't writeable|Connection is closed|enableOfflineQueue|max retries per request|Reached the max retries|connect ECONNREFUSED|the database system is (starting up|shutting down)/i;

/** True for errors that mean "the other side is not answering", as opposed to a bug or a bad query. */
export function isConnectionError(err: unknown): boolean {
  const e = coerceError(err) as Error & { code?: unknown; errno?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  if (CONNECTION_MESSAGES.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && isConnectionError(e.cause);
}

export function unavailable(dep: Dependency, detail: string, cause?: unknown): ApiError {
  return new ApiError(503, 'SERVICE_UNAVAILABLE', `${dep === 'redis' ? 'Redis' : 'Postgres'} is unavailable: ${detail}`, { dependency: dep }, { 'retry-after': '5' }, { cause });
}

/** Fails fast while the producer's Redis connection is not up (it never queues commands). */
export function assertRedisReady(redis: Redis): void {
  if (redis.status !== 'ready') throw unavailable('redis', `connection is ${redis.status}`);
}

/**
 * Runs `fn` with a deadline; a timeout or a connection failure becomes a 503 naming `dep`.
 * Other errors pass through untouched.
 */
export async function guarded<T>(dep: Dependency, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(dep, `no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (isConnectionError(err)) throw unavailable(dep, coerceError(err).message, err);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
