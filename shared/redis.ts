/** Redis connections by role. */
import { Redis } from 'ioredis';

/** For BullMQ workers and anything that may block: commands wait for a reconnect instead of failing. */
export function blockingConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
}

/** For producers answering callers: fail fast while Redis is away instead of queueing commands. */
export function producerConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 });
}
