/** Redis connections by role. */
import { Redis } from 'ioredis';

/**
 * For BullMQ workers and anything that may block: commands wait for a reconnect instead of
 * failing. `name` is what CLIENT LIST shows for it.
 */
export function blockingConnection(url: string, name?: string): Redis {
  return quiet(new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...(name ? { connectionName: name } : {}) }));
}

/** For producers answering callers: fail fast while Redis is away instead of queueing commands. */
export function producerConnection(url: string): Redis {
  return quiet(new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 }));
}

/**
 * While Redis is away ioredis emits an error per reconnect attempt; without a listener it prints
 * each one. The failures reach callers through the commands that fail, and the worker logs
 * BullMQ's own error events, so the connection-level events are not printed again.
 */
function quiet(redis: Redis): Redis {
  redis.on('error', () => {});
  return redis;
}
