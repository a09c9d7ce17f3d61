/**
 * Server-side admin sessions: the cookie holds a random id (256 bits), Redis holds what it
 * stands for, with a TTL. Logout deletes it; each session records the digest of the admin's token
 * it was opened with: the admin's name follows from it, and a session whose token is no longer
 * configured (rotated or removed) is refused.
 * Keys hold a digest of the id, never the id itself; one key per command (Cluster safe).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RedisConnection } from '../shared/redis.ts';

export interface AdminSessionStore {
  /** Opens a session for the admin whose token has this SHA-256 digest (hex); returns its id. */
  create(tokenDigest: string, ttlS: number): Promise<string>;
  /** The token digest a live session was opened with, or null. */
  lookup(id: string): Promise<string | null>;
  revoke(id: string): Promise<void>;
}

/** The shape of a session id in a cookie: 32 random bytes, base64url. */
export const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class RedisAdminSessions implements AdminSessionStore {
  private readonly redis: RedisConnection;
  private readonly prefix: string;

  constructor(
    redis: RedisConnection,
    prefix: string,
  ) {
    this.redis = redis;
    this.prefix = prefix;
  }

  private key(id: string): string {
    return `${this.prefix}:admin-session:${createHash('sha256').update(id).digest('hex')}`;
  }

  async create(tokenDigest: string, ttlS: number): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.redis.set(this.key(id), tokenDigest, 'EX', ttlS);
    return id;
  }

  async lookup(id: string): Promise<string | null> {
    return SESSION_ID.test(id) ? this.redis.get(this.key(id)) : null;
  }

  async revoke(id: string): Promise<void> {
    if (SESSION_ID.test(id)) await this.redis.del(this.key(id));
  }
}
