/**
 * Per-model pauses shared by every worker replica through Redis: a 429 from a vendor pauses
 * calls to that model (and only that model) for the retry-after the vendor sent.
 */
import type { Redis } from 'ioredis';

export interface ModelPauses {
  /** Milliseconds left in the model's pause; 0 when calls may go ahead. */
  remainingMs(modelId: string): Promise<number>;
  /** Pauses the model for at least `ms`; a longer pause already in force is kept. */
  pause(modelId: string, ms: number): Promise<void>;
}

const LOCAL_TRUST_MS = 1_000;

// Extends the pause only when the new one ends later, in one round trip.
const PAUSE_SCRIPT = `
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
  return 1
end
return 0`;

export class RedisModelPauses implements ModelPauses {
  /**
   * What Redis said last, per model, trusted for a second: a storm of paused jobs costs one
   * round trip a second, and a pause lifted by an operator is seen within that second.
   */
  private readonly known = new Map<string, { until: number; checkedAt: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  private key(modelId: string): string {
    return `${this.keyPrefix}:orchestrator:model-pause:${modelId}`;
  }

  async remainingMs(modelId: string): Promise<number> {
    const now = this.now();
    const cached = this.known.get(modelId);
    if (cached && now - cached.checkedAt < LOCAL_TRUST_MS && cached.until > now) return cached.until - now;
    const left = await this.redis.pttl(this.key(modelId));
    if (left > 0) this.known.set(modelId, { until: now + left, checkedAt: now });
    else this.known.delete(modelId);
    return Math.max(0, left);
  }

  async pause(modelId: string, ms: number): Promise<void> {
    const duration = Math.max(1, Math.ceil(ms));
    const now = this.now();
    this.known.set(modelId, { until: Math.max(this.known.get(modelId)?.until ?? 0, now + duration), checkedAt: now });
    await this.redis.eval(PAUSE_SCRIPT, 1, this.key(modelId), String(duration), String(this.now() + duration));
  }
}
