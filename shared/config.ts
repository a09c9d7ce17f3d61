/**
 * Configuration, read once at start from the environment and validated; a bad value stops
 * start-up with a message naming the variable.
 */
import { ConfigurationError } from './errors.ts';
import { MAX_DEADLINE_MS, MIN_DEADLINE_MS } from './jobs.ts';
import { readRedisTarget, type RedisTarget } from './redis-target.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export interface RedisConfig {
  /** Where Redis lives: one node, Sentinel or Cluster (REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES). */
  readonly target: RedisTarget;
  /** BullMQ key prefix; may carry a Redis Cluster hash tag, such as `{wf}`. */
  readonly queuePrefix: string;
}

export interface ProviderConfig {
  readonly openaiApiKey: string | undefined;
  readonly openaiBaseUrl: string | undefined;
  readonly anthropicApiKey: string | undefined;
  readonly anthropicBaseUrl: string | undefined;
  /** Per-model attempt timeout overrides, by catalog id (the catalog is in the database: not checked here). */
  readonly modelTimeoutsMs: Readonly<Record<string, number>>;
  /** The environment at start, where each model's key variable (its catalog row's api_key_env) is looked up. */
  readonly env: Env;
}

export interface WorkerConfig {
  readonly redis: RedisConfig;
  readonly databaseUrl: string;
  /** Postgres schema holding the tables (default: the connection's search_path, usually public). */
  readonly databaseSchema: string | undefined;
  readonly providers: ProviderConfig;
  readonly concurrency: number;
  readonly metricsPort: number;
  /** METRICS_HOST: the address /metrics listens on (default 0.0.0.0, for the scraper). */
  readonly metricsHost: string;
  readonly logLevel: string;
  readonly shutdownGraceMs: number;
  readonly settingsRefreshMs: number;
  /**
   * FINAL_MODEL_MAX_ATTEMPTS: an optional cap on calls of the last-resort model for one request,
   * transient failures included; 0 (the default): none, transient failures retry until the deadline.
   */
  readonly finalModelMaxAttempts: number;
  readonly retryBaseDelayMs: number;
  /** RETRY_MAX_DELAY_MS: the longest backoff between two tries of a model. */
  readonly retryMaxDelayMs: number;
  /** REQUEST_DEADLINE_MS: the deadline of a request without `deadlineMs`, from its enqueue. */
  readonly requestDeadlineMs: number;
  /** How long a worker holds a job before another may take it over (renewed while alive). */
  readonly jobLockMs: number;
  /** How often workers look for jobs whose worker died. */
  readonly stalledIntervalMs: number;
  /** LOST_REQUEST_SWEEP_MS: how often the lost-request sweep runs (worker/lost-request-sweep.ts); 0 turns it off. */
  readonly lostRequestSweepMs: number;
  /** LOST_REQUEST_GRACE_MS: how old an accepted request must be before a missing job counts as lost. */
  readonly lostRequestGraceMs: number;
  /** LOST_REQUEST_MAX_REQUEUES: put-backs of one request before it is recorded as failed instead. */
  readonly lostRequestMaxRequeues: number;
  /** DATABASE_RETRY_MAX_WAIT_MS: how long the database port waits out an outage per call, from its first try (db/retrying-repository.ts). */
  readonly databaseRetryMaxWaitMs: number;
  /**
   * `random_page_cost` the worker's Postgres connections start with (see INPUT_KEYS in
   * db/statements/fragments.ts); undefined: the server's (or role's) own value, nothing sent.
   */
  readonly databaseRandomPageCost: string | undefined;
}

/** What SSD storage calls for (Postgres' docs); the server default, 4, is for spinning disks. */
const DEFAULT_DATABASE_RANDOM_PAGE_COST = '1.1';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class EnvReader {
  private readonly env: Env;

  constructor(env: Env) {
    this.env = env;
  }

  string(name: string, fallback: string): string {
    const v = this.env[name];
    return v === undefined || v === '' ? fallback : v;
  }

  optional(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v === '' ? undefined : v;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw.trim())) throw new ConfigurationError('INVALID_CONFIG', `${name} must be a whole number, got ${JSON.stringify(raw)}`);
    const n = Number(raw);
    if (n < min || n > max) throw new ConfigurationError('INVALID_CONFIG', `${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  url(name: string, fallback: string | undefined, protocols: readonly string[]): string | undefined {
    const raw = this.optional(name) ?? fallback;
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new ConfigurationError('INVALID_CONFIG', `${name} is not a valid URL: ${JSON.stringify(raw)}`);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigurationError('INVALID_CONFIG', `${name} must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
    }
    return raw;
  }

  oneOf(name: string, fallback: string, allowed: readonly string[]): string {
    const v = this.string(name, fallback);
    if (!allowed.includes(v)) throw new ConfigurationError('INVALID_CONFIG', `${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    return v;
  }
}

export function readRedisConfig(env: Env): RedisConfig {
  const r = new EnvReader(env);
  const queuePrefix = r.string('QUEUE_PREFIX', 'wo');
  if (!/^[A-Za-z0-9_{}.-]{1,64}$/.test(queuePrefix) || queuePrefix.includes(':')) {
    throw new ConfigurationError('INVALID_CONFIG', `QUEUE_PREFIX must be 1-64 characters of letters, digits, _ . - { }, got ${JSON.stringify(queuePrefix)}`);
  }
  return { target: readRedisTarget(env, queuePrefix), queuePrefix };
}

export function readDatabaseUrl(env: Env): string {
  return new EnvReader(env).url('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/postgres', ['postgres:', 'postgresql:'])!;
}

export function readDatabaseSchema(env: Env): string | undefined {
  const v = new EnvReader(env).optional('DATABASE_SCHEMA');
  if (v !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(v)) {
    throw new ConfigurationError('INVALID_CONFIG', `DATABASE_SCHEMA must be a lower-case Postgres identifier, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** `MODEL_TIMEOUTS_MS="gpt-4o-mini=20000,claude-sonnet-4=90000"` */
function parseModelTimeouts(raw: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!raw) return out;
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)=(\d+)$/.exec(part);
    if (!m) throw new ConfigurationError('INVALID_CONFIG', `MODEL_TIMEOUTS_MS entries must look like model=milliseconds, got ${JSON.stringify(part)}`);
    const ms = Number(m[2]);
    if (ms < 100 || ms > 600_000) throw new ConfigurationError('INVALID_CONFIG', `MODEL_TIMEOUTS_MS for ${m[1]} must be between 100 and 600000`);
    out[m[1]!] = ms;
  }
  return out;
}

export function readProviderConfig(env: Env): ProviderConfig {
  const r = new EnvReader(env);
  return {
    openaiApiKey: r.optional('OPENAI_API_KEY'),
    openaiBaseUrl: r.url('OPENAI_BASE_URL', undefined, ['http:', 'https:']),
    anthropicApiKey: r.optional('ANTHROPIC_API_KEY'),
    anthropicBaseUrl: r.url('ANTHROPIC_BASE_URL', undefined, ['http:', 'https:']),
    modelTimeoutsMs: parseModelTimeouts(r.optional('MODEL_TIMEOUTS_MS')),
    env: Object.freeze({ ...env }),
  };
}

export function readWorkerConfig(env: Env = process.env): WorkerConfig {
  const r = new EnvReader(env);
  return {
    redis: readRedisConfig(env),
    databaseUrl: readDatabaseUrl(env),
    databaseSchema: readDatabaseSchema(env),
    providers: readProviderConfig(env),
    concurrency: r.int('WORKER_CONCURRENCY', 50, 1, 5_000),
    metricsPort: r.int('METRICS_PORT', 9464, 0, 65_535),
    metricsHost: r.string('METRICS_HOST', '0.0.0.0'),
    logLevel: r.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    shutdownGraceMs: r.int('SHUTDOWN_GRACE_MS', 25_000, 0, 600_000),
    settingsRefreshMs: r.int('SETTINGS_REFRESH_MS', 1_000, 50, 60_000),
    finalModelMaxAttempts: r.int('FINAL_MODEL_MAX_ATTEMPTS', 0, 0, 1_000),
    retryBaseDelayMs: r.int('RETRY_BASE_DELAY_MS', 1_000, 1, 60_000),
    retryMaxDelayMs: r.int('RETRY_MAX_DELAY_MS', 30_000, 1, 3_600_000),
    requestDeadlineMs: r.int('REQUEST_DEADLINE_MS', 600_000, MIN_DEADLINE_MS, MAX_DEADLINE_MS),
    jobLockMs: r.int('JOB_LOCK_MS', 30_000, 1_000, 600_000),
    stalledIntervalMs: r.int('STALLED_INTERVAL_MS', 30_000, 500, 600_000),
    lostRequestSweepMs: r.int('LOST_REQUEST_SWEEP_MS', 30_000, 0, 3_600_000),
    lostRequestGraceMs: r.int('LOST_REQUEST_GRACE_MS', 60_000, 1_000, 86_400_000),
    lostRequestMaxRequeues: r.int('LOST_REQUEST_MAX_REQUEUES', 3, 0, 100),
    databaseRetryMaxWaitMs: r.int('DATABASE_RETRY_MAX_WAIT_MS', 30_000, 0, 600_000),
    databaseRandomPageCost: readRandomPageCost(r),
  };
}

/** `DATABASE_RANDOM_PAGE_COST`: a cost, or `server` to send none (behind PgBouncer, say). */
function readRandomPageCost(r: EnvReader): string | undefined {
  const raw = r.string('DATABASE_RANDOM_PAGE_COST', DEFAULT_DATABASE_RANDOM_PAGE_COST).trim();
  if (raw === 'server') return undefined;
  if (!/^\d{1,4}(\.\d{1,3})?$/.test(raw) || Number(raw) <= 0) {
    throw new ConfigurationError('INVALID_CONFIG', `DATABASE_RANDOM_PAGE_COST must be a positive number such as 1.1, or "server", got ${JSON.stringify(raw)}`);
  }
  return raw;
}
