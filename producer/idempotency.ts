/**
 * Atomic idempotency: the first request with an id claims it in Redis with one `SET … NX GET`,
 * storing a fingerprint of its body, before anything is enqueued. Concurrent requests with the
 * same id all see the first one's fingerprint: the same body is a replay, another is a conflict.
 * One command on one key, so it holds on a cluster too.
 */
import { createHash } from 'node:crypto';
import type { RedisConnection } from '../shared/redis.ts';

/** Claims outlive the jobs they guard (failed jobs are kept 7 days); rows are checked after that. */
export const IDEMPOTENCY_CLAIM_TTL_MS = 8 * 24 * 3600_000;

export class IdempotencyClaims {
  private readonly redis: RedisConnection;
  private readonly prefix: string;
  private readonly ttlMs;

  constructor(
    redis: RedisConnection,
    prefix: string,
    ttlMs = IDEMPOTENCY_CLAIM_TTL_MS,
  ) {
    this.redis = redis;
    this.prefix = prefix;
    this.ttlMs = ttlMs;
  }

  private key(id: string): string {
    return `${this.prefix}:idempotency:${id}`;
  }

  /** Null when this call claimed the id; otherwise the fingerprint of the request that did. */
  async claim(id: string, fingerprint: string): Promise<string | null> {
    const prior = await this.redis.call('SET', this.key(id), fingerprint, 'PX', String(this.ttlMs), 'NX', 'GET');
    return prior === null ? null : String(prior);
  }

  /** Replaces the stored fingerprint (the id turned out to belong to an older request). */
  async settle(id: string, fingerprint: string): Promise<void> {
    await this.redis.set(this.key(id), fingerprint, 'PX', this.ttlMs);
  }

  /** Gives the claim up, when the enqueue after it failed, so a retry can claim it again. */
  async release(id: string, fingerprint: string): Promise<void> {
    await this.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, this.key(id), fingerprint);
  }
}

/** A digest of a request body, independent of the order of its keys. */
export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
