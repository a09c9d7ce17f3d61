/**
 * Calls to Redis and Postgres on behalf of a request: bounded in time, and their failures turned
 * into a 503 that says which dependency is away, instead of a hang or an anonymous 500.
 */
import type { RedisConnection } from '../shared/redis.ts';
import { unreachableDependency } from '../shared/connection-errors.ts';
import { coerceError } from '../shared/errors.ts';
import { ApiError } from './errors.ts';

export type Dependency = 'redis' | 'postgres';

export function unavailable(dep: Dependency, detail: string, cause?: unknown): ApiError {
  return new ApiError(503, 'SERVICE_UNAVAILABLE', `${dep === 'redis' ? 'Redis' : 'Postgres'} is unavailable: ${detail}`, { dependency: dep }, { 'retry-after': '5' }, { cause });
}

/** Fails fast while the producer's Redis connection is not up (it never queues commands). */
export function assertRedisReady(redis: RedisConnection): void {
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
    const failed = unreachableDependency(err);
    if (failed) throw unavailable(failed, coerceError(err).message, err);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
