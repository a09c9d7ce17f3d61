/**
 * Errors that say Redis or Postgres is not answering, as opposed to a bug or a bad query: the one
 * list behind the worker's waiting out a database outage (db/transient-errors.ts), the HTTP
 * API's 503s (producer/dependencies.ts) and the library's waiting out a Redis reconnect.
 */

/**
 * Socket codes (Node, DNS included: a Kubernetes service name can fail to resolve while its pods
 * restart), postgres.js connection states, and Postgres' connection and shutdown SQLSTATEs.
 */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  '08000', '08001', '08003', '08004', '08006', // connection exceptions
  '57P01', '57P02', '57P03', // admin shutdown, crash shutdown, cannot connect now
]);

/** What ioredis answers a command with while its connection is down (or it gave up on one). */
const REDIS_DOWN = /Stream isn't writeable|Connection is closed|enableOfflineQueue|Reached the max retries per request/i;

/** How deep `cause` chains are followed: drivers wrap a socket error once or twice. */
const MAX_CAUSE_DEPTH = 5;

function* causeChain(err: unknown): Generator<Record<string, unknown>> {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < MAX_CAUSE_DEPTH; e = (e as { cause?: unknown }).cause, depth++) {
    yield e as Record<string, unknown>;
  }
}

/** The code (or errno string) of the error itself is one of `codes`. */
function hasCodeIn(e: Record<string, unknown>, codes: ReadonlySet<string>): boolean {
  return (typeof e.code === 'string' && codes.has(e.code)) || (typeof e.errno === 'string' && codes.has(e.errno));
}

/** The message of the error itself is ioredis saying its connection is down. */
function saysRedisIsDown(e: Record<string, unknown>): boolean {
  return typeof e.message === 'string' && REDIS_DOWN.test(e.message);
}

/**
 * Which dependency the error, or one of its causes, says is not answering: 'redis' for ioredis'
 * connection messages, 'postgres' for a connection code (the producer's socket errors with
 * codes come from postgres.js; ioredis reports its own through the messages above).
 */
export function unreachableDependency(err: unknown): 'redis' | 'postgres' | undefined {
  for (const e of causeChain(err)) {
    if (saysRedisIsDown(e)) return 'redis';
    if (hasCodeIn(e, CONNECTION_CODES)) return 'postgres';
  }
  return undefined;
}

/** The error, or one of its causes, is a lost, refused or closed connection (of any kind). */
export function isConnectionFailure(err: unknown): boolean {
  return unreachableDependency(err) !== undefined;
}

/**
 * The error, or one of its causes, carries a connection code, or one of `alsoCodes`: for the
 * database driver's errors, which carry codes (ioredis' messages are not looked at).
 */
export function hasConnectionCodeInChain(err: unknown, alsoCodes: ReadonlySet<string> = new Set()): boolean {
  for (const e of causeChain(err)) if (hasCodeIn(e, CONNECTION_CODES) || hasCodeIn(e, alsoCodes)) return true;
  return false;
}
