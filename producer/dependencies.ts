/**
 * Calls to Redis and Postgres on behalf of a request: bounded in time, and their failures turned
 * into a 503 that says which dependency is away, instead of a hang or an anonymous 500.
 */
import type { Redis } from 'ioredis';
import { coerceError } from '../shared/errors.js';
import { ApiError } from './errors.js';

export type Dependency = 'redis' | 'postgres';

/** Socket and server-state codes: postgres.js surfaces them on its errors. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', '57P01', '57P02', '57P03',
]);
/** What ioredis says to a command while the connection is down (the offline queue is off). */
const REDIS_MESSAGES = /Stream isn't writeable|Connection is closed|enableOfflineQueue|Reached the max retries per request/i;

/**
 * Which dependency an error says is not answering, as opposed to a bug or a bad query;
 * undefined for any other error.
 */
export function connectionFailureOf(err: unknown, depth = 0): Dependency | undefined {
  const e = coerceError(err) as Error & { code?: unknown; cause?: unknown };
  if (REDIS_MESSAGES.test(e.message)) return 'redis';
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return 'postgres';
  return e.cause !== undefined && depth < 3 ? connectionFailureOf(e.cause, depth + 1) : undefined;
}

export function unavailable(dep: Dependency, detail: string, cause?: unknown): ApiError {
  return new ApiError(503, 'SERVICE_UNAVAILABLE', `${dep === 'redis' ? 'Redis' : 'Postgres'} is unavailable: ${detail}`, { dependency: dep }, { 'retry-after': '5' }, { cause });
}

/** Fails fast while the producer's Redis connection is not up (it never queues commands). */
export function assertRedisReady(redis: Redis): void {
  if (redis.status !== 'ready') throw unavailable('redis', `connection is ${redis.status}`);
}

/**
 * Runs `fn` with a deadline; a timeout becomes a 503 naming `dep` (the dependency `fn` waits on
 * most), a connection failure a 503 naming the dependency that failed. Other errors pass through.
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
    const failed = connectionFailureOf(err);
    if (failed) throw unavailable(failed, coerceError(err).message, err);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
