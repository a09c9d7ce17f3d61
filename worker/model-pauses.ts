/**
 * Per-model pauses shared by every worker replica through Redis: a 429 from a vendor pauses
 * calls to that model (and only that model) for the retry-after the vendor sent.
 *
 * Pauses alone cannot keep a model under its vendor's limit while more work arrives than the
 * vendor accepts: each pause is as short as the vendor says (a few ms for a token bucket), and
 * every call sent in the meantime is answered 429 too. So a 429 that comes while calls are
 * admitted at a real rate also paces the model, for every replica: calls then start at most
 * `rate` a second (the rate halves when pacing starts, drops by 30% on a later 429, at most once
 * a second, and grows 5% a second while no 429 comes; pacing ends a minute after the last 429).
 * A call whose turn is near waits for it in the process; one whose turn is further away goes
 * back to the delayed set, like a paused one. Low rates (under 20 calls a second) are never
 * paced: there the pause does the job.
 */
import type { RedisConnection } from '../shared/redis.ts';
import { RedisScript } from '../shared/redis-script.ts';

export interface ModelPauses {
  /**
   * Milliseconds until a call to the model may start: the pause left, or the wait for a pacing
   * turn; 0 when the call may go ahead now (a near turn is waited for before returning 0).
   */
  remainingMs(modelId: string): Promise<number>;
  /** Pauses the model for at least `ms`; a longer pause already in force is kept. */
  pause(modelId: string, ms: number): Promise<void>;
  /**
   * Starts `remainingMs` now, for a call that comes a little later (while other work of the job
   * runs). The check's answer stands only if it is fresh and no pause of the model was noted in
   * this process since. Otherwise a "go" that holds a pacing turn less than PACE_HORIZON_MS old
   * is checked against the model's pause alone (the call keeps its turn and is counted once);
   * any other answer, or a failed check, asks the model again in full.
   */
  checkAhead(modelId: string): PauseCheck;
}

/** An answer of the ADMIT script, as `admit` hands it on. */
interface Admission {
  readonly ms: number;
  readonly turn: boolean;
  /** The Redis second a "go" was counted in; null when nothing was counted. */
  readonly countedIn: number | null;
}

export interface PauseCheck {
  readonly modelId: string;
  /** The answer of the check started ahead the first time; a fresh `remainingMs` after that. */
  remainingMs(): Promise<number>;
  /**
   * The job is done with the check. If its answer was never asked for (the request needed
   * another model, or no call) and was a "go", the call it counted is taken back. Never rejects;
   * a no-op after `remainingMs`. Callers need not wait for it.
   */
  release(): Promise<void>;
}

const LOCAL_TRUST_MS = 1_000;

/**
 * How long an answer checked ahead stands: a pause another replica's 429 started meanwhile (while
 * a database outage held the job for seconds, say) must hold the call too.
 */
const AHEAD_TRUST_MS = 20;

/** A turn that starts within this many ms is waited for in the process. */
const PACE_HORIZON_MS = 250;
/**
 * A call with no turn within the horizon comes back at least this much later (plus the queue's
 * jitter): while a model is paced a backlog waits, and each return costs a queue round trip.
 */
const PACE_RETRY_MS = 1_000;

/** Redis server time in ms, so every replica paces on one clock. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: pause, pace (hash: rate, tat, grown, cut), calls (hash: sec, cur, prev). ARGV: horizon ms,
// retry ms. Returns {0, wait, turn, sec}: go after `wait` ms (turn 1: a pacing turn is reserved;
// 0: the model is not paced), counted as a call in second `sec`; {1, ms}: paused; {2, ms}: come
// back later. Waits are rounded up: a reply's numbers are integers, and a fraction rounded down to
// 0 would read as "go" without a turn. Only a "go" is counted (the count is the rate pacing
// starts from), and a "go" that ends without a call is taken back (UNCOUNT).
const ADMIT_SCRIPT = `
local left = redis.call('PTTL', KEYS[1])
if left > 0 then return {1, left} end
${NOW}
local wait, turn = 0, 0
local pace = redis.call('HMGET', KEYS[2], 'rate', 'tat', 'grown')
local rate = tonumber(pace[1])
if rate then
  local grown = tonumber(pace[3]) or now
  if now > grown then
    rate = rate * (1 + 0.05 * math.min(now - grown, 1000) / 1000)
    redis.call('HSET', KEYS[2], 'rate', rate, 'grown', now)
  end
  local start = math.max(now, tonumber(pace[2]) or now)
  local horizon = tonumber(ARGV[1])
  if start - now > horizon then return {2, math.ceil(start - now - horizon) + tonumber(ARGV[2])} end
  redis.call('HSET', KEYS[2], 'tat', start + 1000 / rate)
  wait, turn = math.ceil(start - now), 1
end
local sec = math.floor(now / 1000)
local calls = redis.call('HMGET', KEYS[3], 'sec', 'cur')
local csec, cur = tonumber(calls[1]), tonumber(calls[2]) or 0
if csec == sec then
  redis.call('HINCRBY', KEYS[3], 'cur', 1)
else
  redis.call('HSET', KEYS[3], 'sec', sec, 'cur', 1, 'prev', (csec == sec - 1) and cur or 0)
end
redis.call('PEXPIRE', KEYS[3], 5000)
return {0, wait, turn, sec}`;

// KEYS as ADMIT. ARGV: the second a "go" was counted in. The call will not be made: it no longer
// counts, in that second's count (now `cur`, or `prev` once the next second began; older counts
// are gone anyway). A pacing turn it held is not given back: its time has come by the time the job
// knows (the call waited for it), and moving the next turn earlier would let a later call go
// before its time, two at once.
const UNCOUNT_SCRIPT = `
local sec = tonumber(ARGV[1])
local calls = redis.call('HMGET', KEYS[3], 'sec', 'cur', 'prev')
local csec, cur, prev = tonumber(calls[1]), tonumber(calls[2]) or 0, tonumber(calls[3]) or 0
if csec == sec and cur > 0 then redis.call('HINCRBY', KEYS[3], 'cur', -1)
elseif csec == sec + 1 and prev > 0 then redis.call('HINCRBY', KEYS[3], 'prev', -1) end
return 1`;

// KEYS as ADMIT. ARGV: pause ms, pause value. Extends the pause only when the new one ends later,
// then starts pacing (calls admitted at 20/s or more over the last second) or slows it down.
const PAUSE_SCRIPT = `
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
end
${NOW}
local pace = redis.call('HMGET', KEYS[2], 'rate', 'cut')
local rate = tonumber(pace[1])
if rate then
  if now - (tonumber(pace[2]) or 0) >= 1000 then
    redis.call('HSET', KEYS[2], 'rate', math.max(10, rate * 0.7), 'cut', now)
  end
  redis.call('PEXPIRE', KEYS[2], 60000)
  return 1
end
local calls = redis.call('HMGET', KEYS[3], 'sec', 'cur', 'prev')
local csec, cur, prev = tonumber(calls[1]), tonumber(calls[2]) or 0, tonumber(calls[3]) or 0
local sec = math.floor(now / 1000)
local admitted = 0
if csec == sec then admitted = cur + prev * (1 - (now % 1000) / 1000)
elseif csec == sec - 1 then admitted = cur * (1 - (now % 1000) / 1000) end
if admitted >= 20 then
  redis.call('HSET', KEYS[2], 'rate', math.max(10, admitted * 0.5), 'tat', now, 'grown', now, 'cut', now)
  redis.call('PEXPIRE', KEYS[2], 60000)
end
return 1`;

const admitScript = new RedisScript(ADMIT_SCRIPT);
const pauseScript = new RedisScript(PAUSE_SCRIPT);
const uncountScript = new RedisScript(UNCOUNT_SCRIPT);

export class RedisModelPauses implements ModelPauses {
  /**
   * What Redis said last, per model, trusted for a second: a storm of paused jobs costs one
   * round trip a second, and a pause lifted by an operator is seen within that second.
   */
  private readonly known = new Map<string, { until: number; checkedAt: number }>();
  /** Pauses noted in this process, per model: an answer checked ahead of one no longer stands. */
  private readonly pausesNoted = new Map<string, number>();

  private readonly redis: RedisConnection;
  private readonly keyPrefix: string;
  private readonly now: () => number;

  constructor(
    redis: RedisConnection,
    keyPrefix: string,
    now: () => number = Date.now,
  ) {
    this.redis = redis;
    this.keyPrefix = keyPrefix;
    this.now = now;
  }

  private key(modelId: string): string {
    return `${this.keyPrefix}:orchestrator:model-pause:${modelId}`;
  }

  /** The pause key, the pacing state and the recent call counts of a model (one hash slot with a {tag} prefix). */
  private keys(modelId: string): [string, string, string] {
    return [this.key(modelId), `${this.keyPrefix}:orchestrator:model-pace:${modelId}`, `${this.keyPrefix}:orchestrator:model-calls:${modelId}`];
  }

  async remainingMs(modelId: string): Promise<number> {
    return (await this.admit(modelId)).ms;
  }

  /**
   * remainingMs, with what a "go" (ms 0) reserved: whether it holds a pacing turn (the model was
   * paced) and the second it was counted in. Anything but a "go" leaves nothing counted.
   */
  private async admit(modelId: string): Promise<Admission> {
    const now = this.now();
    const known = this.knownPauseLeft(modelId, now);
    if (known !== undefined) return { ms: known, turn: false, countedIn: null };
    const [status, ms, turn, sec] = (await admitScript.run(this.redis, this.keys(modelId), [String(PACE_HORIZON_MS), String(PACE_RETRY_MS)])) as [number, number, number?, number?];
    if (status === 1) {
      this.known.set(modelId, { until: now + ms, checkedAt: now });
      return { ms, turn: false, countedIn: null };
    }
    this.known.delete(modelId);
    if (status === 2) return { ms: Math.max(1, ms), turn: false, countedIn: null };
    const go: Admission = { ms: 0, turn: turn === 1, countedIn: sec ?? null };
    // Our turn comes within the horizon: wait for it here rather than through the queue.
    if (ms > 0) {
      await new Promise((resolve) => setTimeout(resolve, ms));
      // A 429 may have come while we waited for the turn: the pause it started holds for us too.
      const left = await this.pauseLeftForGo(modelId, go);
      if (left > 0) return { ms: left, turn: false, countedIn: null };
    }
    return go;
  }

  /**
   * pauseLeft for a counted "go" about to be made: when a pause holds it, or Redis fails (and the
   * job with it), the call will not be made, and the one it counted is taken back.
   */
  private async pauseLeftForGo(modelId: string, go: Admission): Promise<number> {
    try {
      const left = await this.pauseLeft(modelId);
      if (left > 0) void this.uncount(modelId, go);
      return left;
    } catch (err) {
      void this.uncount(modelId, go);
      throw err;
    }
  }

  /**
   * Takes back the call a "go" counted, when no call follows it. Never rejects, and callers on a
   * job's path do not wait for it.
   */
  private async uncount(modelId: string, admission: Admission): Promise<void> {
    if (admission.countedIn === null) return;
    try {
      await uncountScript.run(this.redis, this.keys(modelId), [String(admission.countedIn)]);
    } catch {
      // A call left counted only makes pacing start from a slightly higher rate.
    }
  }

  /**
   * The pause left on a model, and nothing else: for a call that already holds its pacing turn
   * (and was counted), which a second admission would take again.
   */
  private async pauseLeft(modelId: string): Promise<number> {
    const known = this.knownPauseLeft(modelId, this.now());
    if (known !== undefined) return known;
    const left = await this.redis.pttl(this.key(modelId));
    if (left <= 0) return 0;
    const now = this.now();
    this.known.set(modelId, { until: now + left, checkedAt: now });
    return left;
  }

  /** The pause left as Redis said it within the last second, if it said one still running. */
  private knownPauseLeft(modelId: string, now: number): number | undefined {
    const cached = this.known.get(modelId);
    return cached && now - cached.checkedAt < LOCAL_TRUST_MS && cached.until > now ? cached.until - now : undefined;
  }

  checkAhead(modelId: string): PauseCheck {
    const pausesBefore = this.pausesNoted.get(modelId) ?? 0;
    const early = this.admit(modelId).then((a) => ({ ...a, at: this.now() }));
    early.catch(() => {}); // Awaited when redeemed; an unused one must not surface as unhandled.
    let redeemed = false;
    return {
      modelId,
      release: async () => {
        if (redeemed) return;
        redeemed = true;
        const answer = await early.catch(() => null);
        if (answer) await this.uncount(modelId, answer);
      },
      remainingMs: async () => {
        const first = !redeemed;
        redeemed = true;
        const answer = first ? await early.catch(() => null) : null;
        if (!answer) return this.remainingMs(modelId);
        const age = this.now() - answer.at;
        if (age <= AHEAD_TRUST_MS && (this.pausesNoted.get(modelId) ?? 0) === pausesBefore) return answer.ms;
        // A "go" holding a pacing turn that is still near keeps it: admitting the call again would
        // take a second turn (left unused) and count it twice, and only a pause can have begun
        // since. Any other answer is asked again in full: pacing may have begun after a "go"
        // without a turn, and turns left far behind (a database outage held the jobs) would send
        // the late calls all at once. Either way a "go" that ends without its call is uncounted.
        if (answer.ms === 0 && answer.turn && age <= PACE_HORIZON_MS) return this.pauseLeftForGo(modelId, answer);
        void this.uncount(modelId, answer);
        return this.remainingMs(modelId);
      },
    };
  }

  async pause(modelId: string, ms: number): Promise<void> {
    const duration = Math.max(1, Math.ceil(ms));
    const now = this.now();
    this.pausesNoted.set(modelId, (this.pausesNoted.get(modelId) ?? 0) + 1);
    this.known.set(modelId, { until: Math.max(this.known.get(modelId)?.until ?? 0, now + duration), checkedAt: now });
    await pauseScript.run(this.redis, this.keys(modelId), [String(duration), String(this.now() + duration)]);
  }
}
