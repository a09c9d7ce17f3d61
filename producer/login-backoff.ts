/**
 * Per-address backoff for the admin login form, instead of a lockout: the first few failed
 * logins from an address cost nothing, then each one makes that address wait twice as long
 * before its next try (up to a cap), and a successful login clears it. Guessing a long random
 * token stays hopeless, while an admin behind the same address as an attacker waits seconds,
 * not a window. One Redis key per address (a hash), one Lua call per check: Cluster safe.
 */
import { createHash } from 'node:crypto';
import type { RedisConnection } from '../shared/redis.ts';

export interface LoginBackoffOptions {
  readonly redis: RedisConnection;
  readonly prefix: string;
  /** Failures from one address that cost no wait (default 5). */
  readonly freeFailures?: number;
  /** The wait after the first failure past the free ones; doubles with each further one (default 1 s). */
  readonly baseDelayMs?: number;
  /** The longest wait (default 30 s). */
  readonly maxDelayMs?: number;
  /** How long failures are remembered after the last one (default 15 min). */
  readonly memoryMs?: number;
  readonly now?: () => number;
}

/** ARGV: now. Returns the milliseconds the address must still wait (0: it may try). */
const CHECK = `
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
local wait = untilMs - tonumber(ARGV[1])
if wait > 0 then return wait end
return 0
`;

/** ARGV: now, free failures, base delay, max delay, memory. Returns the wait now imposed. */
const FAIL = `
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local over = failures - tonumber(ARGV[2])
local wait = 0
if over > 0 then
  wait = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(over - 1, 30))
  redis.call('HSET', KEYS[1], 'until', tostring(tonumber(ARGV[1]) + wait))
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return wait
`;

export class LoginBackoff {
  private readonly now: () => number;

  private readonly o: LoginBackoffOptions;

  constructor(o: LoginBackoffOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
  }

  private key(address: string): string {
    // Addresses never reach Redis in clear.
    return `${this.o.prefix}:login-backoff:${createHash('sha256').update(address).digest('hex').slice(0, 32)}`;
  }

  /** Milliseconds this address must still wait before its next login attempt. */
  async waitMs(address: string): Promise<number> {
    return Number(await this.o.redis.eval(CHECK, 1, this.key(address), String(this.now())));
  }

  /** Records a failed login; returns the wait it imposes on the address. */
  async failed(address: string): Promise<number> {
    const { freeFailures = 5, baseDelayMs = 1_000, maxDelayMs = 30_000, memoryMs = 15 * 60_000 } = this.o;
    return Number(await this.o.redis.eval(FAIL, 1, this.key(address), String(this.now()), String(freeFailures), String(baseDelayMs), String(maxDelayMs), String(memoryMs)));
  }

  async succeeded(address: string): Promise<void> {
    await this.o.redis.del(this.key(address));
  }
}
