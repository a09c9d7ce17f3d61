/**
 * A Lua script sent by its SHA1 (EVALSHA): the text goes over the wire only when Redis does not
 * know it yet (after a restart or SCRIPT FLUSH). EVAL would send and hash the whole script on
 * every call. Under Redis Cluster all of a script's keys must share one hash slot: callers build
 * them from a prefix with a {tag}.
 */
import { createHash } from 'node:crypto';
import type { RedisConnection } from './redis.ts';

export class RedisScript {
  private readonly sha: string;

  private readonly source: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisConnection, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
