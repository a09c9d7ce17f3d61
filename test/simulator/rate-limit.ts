/** Token buckets per model: `rateLimitPerSecond` requests per second, with that many in a burst. */

interface Bucket {
  tokens: number;
  updatedMs: number;
  ratePerSecond: number;
}

export type Admission = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  private readonly now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
  }

  take(model: string, ratePerSecond: number): Admission {
    const now = this.now();
    const capacity = Math.max(1, ratePerSecond);
    let bucket = this.buckets.get(model);
    if (!bucket || bucket.ratePerSecond !== ratePerSecond) {
      bucket = { tokens: capacity, updatedMs: now, ratePerSecond };
      this.buckets.set(model, bucket);
    }
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.updatedMs) / 1000) * ratePerSecond);
    bucket.updatedMs = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil(((1 - bucket.tokens) / ratePerSecond) * 1000)) };
  }

  reset(): void {
    this.buckets.clear();
  }
}
