/**
 * A fixed-window rate limit kept in Redis, so every producer replica counts against the same
 * budget. One Lua call per check: INCR, and PEXPIRE on the first hit of a window; the key is
 * declared (Redis Cluster safe) and starts with the queue prefix, so its hash tag applies.
 */
import { createHash } from 'node:crypto';
import type { RedisConnection } from '../shared/redis.ts';
import { ApiError } from './errors.ts';

const SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { count, ttl }
`;

export interface RateDecision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Milliseconds until the window ends and the budget is whole again. */
  readonly resetMs: number;
}

export interface RateLimiterOptions {
  readonly redis: RedisConnection;
  /** BullMQ key prefix: limits of different deployments on one Redis stay apart. */
  readonly prefix: string;
  /** What is limited, part of the key: `enqueue`, `login`. */
  readonly name: string;
  /** Requests per window; 0 turns the limiter off. */
  readonly limit: number;
  readonly windowMs: number;
}

export class RedisRateLimiter {
  private readonly options: RateLimiterOptions;

  constructor(options: RateLimiterOptions) {
    this.options = options;
  }

  get enabled(): boolean {
    return this.options.limit > 0;
  }

  /** Counts one request against `subject` (hashed: tokens and addresses never reach Redis). */
  async hit(subject: string): Promise<RateDecision> {
    const { redis, prefix, name, limit, windowMs } = this.options;
    if (limit <= 0) return { allowed: true, limit: 0, remaining: 0, resetMs: 0 };
    const key = `${prefix}:ratelimit:${name}:${createHash('sha256').update(subject).digest('hex').slice(0, 32)}`;
    const [count, ttl] = (await redis.eval(SCRIPT, 1, key, String(windowMs))) as [number, number];
    return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetMs: Math.max(0, ttl) };
  }
}

/** Headers every limited response carries, and the 429 when the budget is spent. */
export function rateLimitHeaders(d: RateDecision): Record<string, string> {
  return {
    'x-ratelimit-limit': String(d.limit),
    'x-ratelimit-remaining': String(d.remaining),
    'x-ratelimit-reset': String(Math.ceil(d.resetMs / 1000)),
  };
}

export function rateLimitedError(d: RateDecision, what: string): ApiError {
  const retryAfterS = Math.max(1, Math.ceil(d.resetMs / 1000));
  return new ApiError(429, 'RATE_LIMITED', `${what} rate limit of ${d.limit} per minute reached; retry in ${retryAfterS} s`, { limit: d.limit, retryAfterSeconds: retryAfterS }, {
    ...rateLimitHeaders(d),
    'retry-after': String(retryAfterS),
  });
}
