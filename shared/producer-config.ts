/**
 * The producer service's configuration (HTTP API and admin console), read once at start from the
 * environment. A bad value stops start-up with a message naming the variable; so does a service
 * that would run without access control by accident.
 */
import { type Env, EnvReader, readDatabaseSchema, readDatabaseUrl, readRedisConfig, type RedisConfig } from './config.ts';
import { ConfigurationError } from './errors.ts';

export interface AdminCredential {
  /** Who this is, as audit rows and "last updated by" show it: `alice`, `bob@example.com`. */
  readonly name: string;
  readonly token: string;
}

/** The name the single ADMIN_API_TOKEN's rows carry: it names no person. */
export const UNNAMED_ADMIN = 'admin';

/** A person's name or e-mail: no `:` or `,` (the list's separators), no spaces. */
const ADMIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;

export interface ProducerConfig {
  readonly redis: RedisConfig;
  readonly databaseUrl: string;
  /** Postgres schema holding the tables (default: the connection's search_path, usually public). */
  readonly databaseSchema: string | undefined;
  /** @defaultValue 3000 */
  readonly port: number;
  /** @defaultValue '0.0.0.0' */
  readonly host: string;
  /** Bearer tokens accepted on the API routes (`PRODUCER_API_TOKENS`, comma separated). */
  readonly apiTokens: readonly string[];
  /**
   * The admins: each a person's name and their token (bearer or login) for the admin routes and
   * pages, from ADMIN_API_TOKENS (`name:token,…`) and ADMIN_API_TOKEN (one admin named `admin`).
   * Audit rows carry the name. No token is an API token too.
   */
  readonly admins: readonly AdminCredential[];
  /** No access control at all: demos and tests only. */
  readonly authDisabled: boolean;
  /** Enqueues per token per minute, shared by every replica through Redis; 0 turns the limit off. @defaultValue 600 */
  readonly enqueueRateLimitPerMinute: number;
  /** Admin login attempts per client address per minute. @defaultValue 20 */
  /** LOGIN_FREE_FAILURES: failed admin logins from one address before each one costs a wait. */
  readonly loginFreeFailures: number;
  /** LOGIN_BACKOFF_MAX_MS: the longest wait an address gets (it doubles from 1 s per failure). */
  readonly loginBackoffMaxMs: number;
  /** Lifetime of an admin browser session cookie. @defaultValue 28_800 (8 h) */
  readonly adminSessionTtlS: number;
  /** Trust X-Forwarded-* headers (behind a reverse proxy): client address and https detection. @defaultValue false */
  readonly trustProxy: boolean;
  /** Interval of the comment lines that keep an event stream open through proxies. @defaultValue 15_000 */
  readonly sseHeartbeatMs: number;
  /** SSE_MAX_STREAMS_PER_PRINCIPAL: event streams one token may hold open on one replica. */
  readonly sseMaxStreamsPerPrincipal: number;
  /** How long a Redis or Postgres call of a request may take before the request gets 503. @defaultValue 2_000 */
  readonly dependencyTimeoutMs: number;
  /** How long shutdown waits for in-flight requests before closing connections. @defaultValue 10_000 */
  readonly shutdownGraceMs: number;
  /**
   * ENQUEUE_WAIT_REPLICAS: after each enqueue, wait (Redis WAIT) until this many replicas have the
   * job before answering 202; 0 (default) does not wait. Not in Cluster mode.
   */
  readonly enqueueWaitReplicas: number;
  /** ENQUEUE_WAIT_TIMEOUT_MS: the longest that wait lasts; the 202 is sent then anyway. @defaultValue 500 */
  readonly enqueueWaitTimeoutMs: number;
  readonly logLevel: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Short secrets can be guessed; 16 characters is the floor, 32 random bytes the advice. */
export const MIN_TOKEN_LENGTH = 16;

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = new EnvReader(env).optional(name);
  if (raw === undefined) return fallback;
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ConfigurationError('INVALID_CONFIG', `${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function token(name: string, value: string): string {
  if (value.length < MIN_TOKEN_LENGTH) throw new ConfigurationError('INVALID_CONFIG', `${name} holds a token shorter than ${MIN_TOKEN_LENGTH} characters`);
  if (!/^[\x21-\x7e]+$/.test(value)) throw new ConfigurationError('INVALID_CONFIG', `${name} holds a token with spaces or non-ASCII characters`);
  return value;
}

export function readProducerConfig(env: Env = process.env): ProducerConfig {
  const r = new EnvReader(env);
  const authDisabled = bool(env, 'AUTH_DISABLED', false);
  const apiTokens = (r.optional('PRODUCER_API_TOKENS') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => token('PRODUCER_API_TOKENS', t));
  const admins = readAdmins(r);
  if (!authDisabled) {
    if (apiTokens.length === 0) {
      throw new ConfigurationError('INVALID_CONFIG', 'PRODUCER_API_TOKENS is empty: set at least one API token, or AUTH_DISABLED=true for a demo or test without access control');
    }
    if (admins.length === 0) {
      throw new ConfigurationError('INVALID_CONFIG', 'ADMIN_API_TOKENS and ADMIN_API_TOKEN are not set: name each admin with a token (ADMIN_API_TOKENS="alice:…,bob:…"), or AUTH_DISABLED=true for a demo or test without access control');
    }
  }
  for (const a of admins) {
    if (apiTokens.includes(a.token)) throw new ConfigurationError('INVALID_CONFIG', `${a.from} must differ from every token in PRODUCER_API_TOKENS${a.from === 'ADMIN_API_TOKENS' ? ` (the token of ${a.name})` : ''}`);
  }
  const redis = readRedisConfig(env);
  const enqueueWaitReplicas = r.int('ENQUEUE_WAIT_REPLICAS', 0, 0, 16);
  if (enqueueWaitReplicas > 0 && redis.target.mode === 'cluster') {
    // WAIT counts the replicas of the node it is sent to, and carries no key to route it by.
    throw new ConfigurationError('INVALID_CONFIG', 'ENQUEUE_WAIT_REPLICAS is not supported with REDIS_CLUSTER_NODES: set it to 0, or use min-replicas-to-write on the cluster nodes');
  }
  return {
    redis,
    databaseUrl: readDatabaseUrl(env),
    databaseSchema: readDatabaseSchema(env),
    port: r.int('PORT', 3000, 0, 65_535),
    host: r.string('HOST', '0.0.0.0'),
    apiTokens,
    admins: admins.map(({ name, token: t }) => ({ name, token: t })),
    authDisabled,
    enqueueRateLimitPerMinute: r.int('ENQUEUE_RATE_LIMIT_PER_MINUTE', 600, 0, 1_000_000),
    loginFreeFailures: r.int('LOGIN_FREE_FAILURES', 5, 0, 1_000),
    loginBackoffMaxMs: r.int('LOGIN_BACKOFF_MAX_MS', 30_000, 1_000, 3_600_000),
    adminSessionTtlS: r.int('ADMIN_SESSION_TTL_S', 28_800, 60, 30 * 24 * 3600),
    trustProxy: bool(env, 'TRUST_PROXY', false),
    sseHeartbeatMs: r.int('SSE_HEARTBEAT_MS', 15_000, 100, 300_000),
    sseMaxStreamsPerPrincipal: r.int('SSE_MAX_STREAMS_PER_PRINCIPAL', 50, 1, 100_000),
    dependencyTimeoutMs: r.int('DEPENDENCY_TIMEOUT_MS', 2_000, 50, 60_000),
    shutdownGraceMs: r.int('SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    enqueueWaitReplicas,
    enqueueWaitTimeoutMs: r.int('ENQUEUE_WAIT_TIMEOUT_MS', 500, 1, 60_000),
    logLevel: r.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
  };
}

/**
 * ADMIN_API_TOKENS (`alice:token,bob:token`) and ADMIN_API_TOKEN (one admin named `admin`), both
 * optional, together: names and tokens must each be unique across both, or audit rows could not
 * tell two people apart.
 */
function readAdmins(r: EnvReader): (AdminCredential & { from: string })[] {
  const out: (AdminCredential & { from: string })[] = [];
  const list = r.optional('ADMIN_API_TOKENS') ?? '';
  // Empty entries (a trailing comma) are skipped, as in PRODUCER_API_TOKENS.
  for (const [i, raw] of list.split(',').map((e) => e.trim()).filter(Boolean).entries()) {
    const colon = raw.indexOf(':');
    if (colon < 0) throw new ConfigurationError('INVALID_CONFIG', `ADMIN_API_TOKENS entry ${i + 1} is not name:token (no colon)`);
    const name = raw.slice(0, colon).trim();
    if (name === '') throw new ConfigurationError('INVALID_CONFIG', `ADMIN_API_TOKENS entry ${i + 1} has an empty name: audit rows need a person's name`);
    if (!ADMIN_NAME.test(name)) throw new ConfigurationError('INVALID_CONFIG', `ADMIN_API_TOKENS entry ${i + 1} has the name ${JSON.stringify(name)}: use letters, digits and . _ @ + - (at most 64, no spaces)`);
    out.push({ name, token: token(`ADMIN_API_TOKENS (the token of ${name})`, raw.slice(colon + 1).trim()), from: 'ADMIN_API_TOKENS' });
  }
  const single = r.optional('ADMIN_API_TOKEN')?.trim() || undefined;
  if (single !== undefined) out.push({ name: UNNAMED_ADMIN, token: token('ADMIN_API_TOKEN', single), from: 'ADMIN_API_TOKEN' });
  const names = new Set<string>();
  const tokens = new Map<string, string>();
  for (const a of out) {
    if (names.has(a.name)) {
      throw new ConfigurationError('INVALID_CONFIG', a.from === 'ADMIN_API_TOKEN' ? `ADMIN_API_TOKENS names an admin "${UNNAMED_ADMIN}", the name ADMIN_API_TOKEN's rows carry: rename that admin or drop ADMIN_API_TOKEN` : `ADMIN_API_TOKENS names ${a.name} twice`);
    }
    const other = tokens.get(a.token);
    if (other !== undefined) throw new ConfigurationError('INVALID_CONFIG', `${a.from} gives ${a.name} the same token as ${other}: each admin needs a token of their own`);
    names.add(a.name);
    tokens.set(a.token, a.name);
  }
  return out;
}
