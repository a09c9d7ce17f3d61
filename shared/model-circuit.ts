/**
 * A circuit per model, shared by every worker replica through Redis: a model whose recent calls
 * mostly fail with call failures (it is down, not wrong) is skipped, so requests go on to the next
 * step of the ladder at once instead of each waiting out its own timeouts and retries.
 *
 * The tuning (docs/models.md#circuit-per-model):
 * - Window: the last 60 s, in six buckets of 10 s. Long enough to hold a useful number of calls
 *   at modest traffic, short enough that an outage is seen within a minute and old successes do
 *   not mask it.
 * - Minimum calls: 20 in the window. Below that a handful of timeouts at 3 a.m. would open it;
 *   a request makes up to 3 calls to a model (transient retries), so 20 calls are 7+ requests.
 * - Threshold: at least 50% of those calls failed with a call failure ("mostly fail"). Validation
 *   failures count as answers: a model that answers badly is the ladder's business, not the
 *   circuit's. Rate limits and bad requests are not counted at all (circuitVerdict): the pauses
 *   handle a 429, and a 400 says nothing about the model's health.
 * - Open for 30 s, then one probe call at a time (half-open): `allow` answers 'probe' to exactly
 *   one caller, whose lease lasts the model's timeout plus 5 s, so a worker that dies mid-probe
 *   cannot hold the circuit open for ever. The probe's answer closes the circuit (and forgets the
 *   window) or opens it for another 30 s.
 *
 * One Lua script per operation; each model's state is one hash, so a script touches one key (one
 * hash slot under Redis Cluster, and every model's key shares the prefix's {tag}). Time is the
 * caller's clock (an injected `now`), so tests drive it; replicas' clocks differ by far less than
 * a bucket.
 */
import type { AttemptOutcome } from './outcomes.ts';
import type { RedisConnection } from './redis.ts';
import { RedisScript } from './redis-script.ts';

export const CIRCUIT_WINDOW_MS = 60_000;
export const CIRCUIT_BUCKETS = 6;
export const CIRCUIT_MIN_CALLS = 20;
export const CIRCUIT_FAILURE_RATIO = 0.5;
export const CIRCUIT_OPEN_MS = 30_000;
/** Added to the model's timeout for the probe's lease. */
export const CIRCUIT_PROBE_GRACE_MS = 5_000;

/** What `allow` answers: call the model; call it as the one probe; skip it. */
export type CircuitDecision = 'closed' | 'probe' | 'open';
export const CIRCUIT_STATES = ['closed', 'half_open', 'open'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];

export interface CircuitView {
  readonly model: string;
  readonly state: CircuitState;
  /** Calls and call failures counted in the window (cleared when a probe closes the circuit). */
  readonly calls: number;
  readonly failures: number;
  /** When it last opened (epoch ms); null while it has not. */
  readonly openedAt: number | null;
}

export interface ModelCircuit {
  /** Whether a call to the model may start now; 'probe' is given to one caller at a time. */
  allow(modelId: string, options?: { probeLeaseMs?: number }): Promise<CircuitDecision>;
  /** A call's result: `callFailed` for a call failure that counts (see circuitVerdict). `probe`: the call `allow` answered 'probe' to. */
  record(modelId: string, callFailed: boolean, options?: { probe?: boolean }): Promise<void>;
  /** Each model's circuit, for the admin page and the metric. */
  views(modelIds: readonly string[]): Promise<CircuitView[]>;
}

/**
 * What an attempt's outcome tells the circuit: true, the model failed to answer; false, it
 * answered (well or badly); null, nothing about the model's health (a 429, paced by the pauses;
 * a 400, the request's fault).
 */
export function circuitVerdict(outcome: AttemptOutcome): boolean | null {
  switch (outcome) {
    case 'rate_limit':
    case 'bad_request':
      return null;
    case 'timeout':
    case 'api_error':
    case 'auth_error':
    case 'model_unavailable':
    case 'quota_exhausted':
      return true;
    default:
      return false;
  }
}

// Shared by the scripts: the window's totals over the six slots `s0`..`s5` ("bucket:calls:failures").
// ARGV[1] is now (ms) in every script; ARGV[2] the bucket width.
const WINDOW = `
local now = tonumber(ARGV[1])
local width = tonumber(ARGV[2])
local bucket = math.floor(now / width)
local function totals()
  local n, f = 0, 0
  for i = 0, ${CIRCUIT_BUCKETS - 1} do
    local v = redis.call('HGET', KEYS[1], 's' .. i)
    if v then
      local b, bn, bf = string.match(v, '^(%d+):(%d+):(%d+)$')
      if b and tonumber(b) > bucket - ${CIRCUIT_BUCKETS} then n = n + tonumber(bn); f = f + tonumber(bf) end
    end
  end
  return n, f
end`;

const TTL_MS = 10 * CIRCUIT_WINDOW_MS;

// ARGV: now, width, open ms, probe lease ms. Returns 0 closed, 1 probe (lease taken), 2 open.
const ALLOW_SCRIPT = `${WINDOW}
local st = redis.call('HMGET', KEYS[1], 'state', 'opened', 'lease')
local state = st[1]
if state ~= 'open' and state ~= 'half' then return 0 end
if state == 'open' and now < tonumber(st[2]) + tonumber(ARGV[3]) then return 2 end
if state == 'half' and now < (tonumber(st[3]) or 0) then return 2 end
redis.call('HSET', KEYS[1], 'state', 'half', 'lease', now + tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], ${TTL_MS})
return 1`;

// ARGV: now, width, failed (1/0), probe (1/0), min calls, failure ratio. Counts the call in its
// bucket; a closed circuit whose window mostly failed opens; the probe's result decides a
// half-open one. Returns the state after: 0 closed, 1 half-open, 2 open.
const RECORD_SCRIPT = `${WINDOW}
local failed, probe = tonumber(ARGV[3]), ARGV[4] == '1'
local slot = 's' .. (bucket % ${CIRCUIT_BUCKETS})
local v = redis.call('HGET', KEYS[1], slot)
local b, bn, bf = nil, 0, 0
if v then b, bn, bf = string.match(v, '^(%d+):(%d+):(%d+)$') end
if not b or tonumber(b) ~= bucket then bn, bf = 0, 0 end
redis.call('HSET', KEYS[1], slot, bucket .. ':' .. (tonumber(bn) + 1) .. ':' .. (tonumber(bf) + failed))
redis.call('PEXPIRE', KEYS[1], ${TTL_MS})
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'half' then
  if not probe then return 1 end
  if failed == 1 then
    redis.call('HSET', KEYS[1], 'state', 'open', 'opened', now)
    redis.call('HDEL', KEYS[1], 'lease')
    return 2
  end
  redis.call('DEL', KEYS[1])
  return 0
end
if state == 'open' then return 2 end
local n, f = totals()
if n >= tonumber(ARGV[5]) and f >= n * tonumber(ARGV[6]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened', now)
  return 2
end
return 0`;

// ARGV: now, width. Returns {state, calls, failures, opened} as stored: an open circuit whose
// 30 s are up stays 'open' until a call takes the probe.
const VIEW_SCRIPT = `${WINDOW}
local st = redis.call('HMGET', KEYS[1], 'state', 'opened')
local n, f = totals()
return {st[1] or 'closed', n, f, st[2] or ''}`;

const allowScript = new RedisScript(ALLOW_SCRIPT);
const recordScript = new RedisScript(RECORD_SCRIPT);
const viewScript = new RedisScript(VIEW_SCRIPT);

const BUCKET_MS = CIRCUIT_WINDOW_MS / CIRCUIT_BUCKETS;
const DEFAULT_PROBE_LEASE_MS = 60_000;

export class RedisModelCircuit implements ModelCircuit {
  private readonly redis: RedisConnection;
  private readonly keyPrefix: string;
  private readonly now: () => number;

  /** `keyPrefix`: the queue prefix (with its {tag} under Cluster); `now`: the clock, injected. */
  constructor(redis: RedisConnection, keyPrefix: string, now: () => number = Date.now) {
    this.redis = redis;
    this.keyPrefix = keyPrefix;
    this.now = now;
  }

  private key(modelId: string): string {
    return `${this.keyPrefix}:orchestrator:model-circuit:${modelId}`;
  }

  async allow(modelId: string, options: { probeLeaseMs?: number } = {}): Promise<CircuitDecision> {
    const lease = options.probeLeaseMs ?? DEFAULT_PROBE_LEASE_MS;
    const r = Number(await allowScript.run(this.redis, [this.key(modelId)], [String(this.now()), String(BUCKET_MS), String(CIRCUIT_OPEN_MS), String(Math.max(1, Math.ceil(lease)))]));
    return r === 0 ? 'closed' : r === 1 ? 'probe' : 'open';
  }

  async record(modelId: string, callFailed: boolean, options: { probe?: boolean } = {}): Promise<void> {
    await recordScript.run(this.redis, [this.key(modelId)], [String(this.now()), String(BUCKET_MS), callFailed ? '1' : '0', options.probe ? '1' : '0', String(CIRCUIT_MIN_CALLS), String(CIRCUIT_FAILURE_RATIO)]);
  }

  async views(modelIds: readonly string[]): Promise<CircuitView[]> {
    const now = this.now();
    return Promise.all(
      modelIds.map(async (model): Promise<CircuitView> => {
        const [state, calls, failures, opened] = (await viewScript.run(this.redis, [this.key(model)], [String(now), String(BUCKET_MS)])) as [string, number, number, string];
        return { model, state: state === 'open' ? 'open' : state === 'half' ? 'half_open' : 'closed', calls: Number(calls), failures: Number(failures), openedAt: opened === '' ? null : Number(opened) };
      }),
    );
  }
}

/** The probe lease for a model: its timeout and a grace, so a probe that hangs to its timeout still holds it. */
export function probeLeaseMs(model: { readonly timeoutMs: number }): number {
  return model.timeoutMs + CIRCUIT_PROBE_GRACE_MS;
}

/** The metric's value per state: 0 closed, 1 half-open, 2 open. */
export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };
