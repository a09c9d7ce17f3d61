/**
 * The one place transient database errors are retried: every GenerationRepository call, with
 * backoff, while the database is unreachable or a transaction lost a race (transient-errors.ts).
 * A result already paid for must not be lost to a database blip, so writes wait an outage out;
 * anything else (a constraint, a missing request row, a bug) goes straight to the caller.
 *
 * Worst case, per repository call: `maxWaitMs`, counted from the first try and covering the
 * tries as well as the pauses (the last pause is cut short so they never pass it), plus the one
 * try under way when it runs out. A try against a server that does not answer lasts up to the
 * pool's connect timeout (10 s, db/client.ts), so counting only the pauses would let a call run
 * for a connect timeout per try: minutes, not the 40 s below. With the defaults: about 40 s in
 * all before the error reaches the job (and BullMQ's own retry).
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { GenerationRepository } from './generation-repository.ts';
import { isTransientDbError } from './transient-errors.ts';

/** Time as the retry sees it: injected, so tests (and the worker's clock) decide what a pause is. */
export interface RetryClock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface DbRetryOptions {
  readonly clock: RetryClock;
  /**
   * Time from the first try (tries and pauses) after which the error is passed on.
   * @defaultValue 30_000
   */
  readonly maxWaitMs?: number;
  /**
   * First pause; doubling from there, with jitter (half to all of it).
   * @defaultValue 100
   */
  readonly baseDelayMs?: number;
  /**
   * Longest single pause.
   * @defaultValue 2_000
   */
  readonly maxDelayMs?: number;
  /** Random source for jitter, in [0, 1). */
  readonly random?: () => number;
  /** Told of the first failure of each call that is then retried. */
  readonly onRetry?: (op: string, err: unknown) => void;
}

export const DEFAULT_DB_RETRY = { maxWaitMs: 30_000, baseDelayMs: 100, maxDelayMs: 2_000 } as const;

export const systemRetryClock: RetryClock = { now: () => Date.now(), sleep: (ms) => sleepFor(ms) };

/** Runs `run`, again after a pause while it fails with a transient database error, within the bound above. */
export async function withDbRetry<T>(op: string, run: () => Promise<T>, options: DbRetryOptions): Promise<T> {
  const { clock, random = Math.random } = options;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_DB_RETRY.maxWaitMs;
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_DB_RETRY.baseDelayMs;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_DB_RETRY.maxDelayMs;
  const started = clock.now();
  let paused = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      // As the clock saw it (the tries included), and never less than the pauses: a clock that
      // stands still still ends the retries.
      const spent = Math.max(paused, clock.now() - started);
      if (!isTransientDbError(err) || spent >= maxWaitMs) throw err;
      if (attempt === 0) options.onRetry?.(op, err);
      const delayMs = Math.min(maxWaitMs - spent, Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt, 30)) * (0.5 + random() * 0.5));
      await clock.sleep(delayMs);
      paused += delayMs;
    }
  }
}

/** `repo` with every call retried as withDbRetry says: the repository the worker runs on. */
export function retryingRepository(repo: GenerationRepository, options: DbRetryOptions): GenerationRepository {
  const retry = <T>(op: string, run: () => Promise<T>) => withDbRetry(op, run, options);
  return {
    begin: (i) => retry('begin', () => repo.begin(i)),
    recordAttempt: (a) => retry('recordAttempt', () => repo.recordAttempt(a)),
    recordHandover: (a, h) => retry('recordHandover', () => repo.recordHandover(a, h)),
    finish: (o, a) => retry('finish', () => repo.finish(o, a)),
    reject: (i) => retry('reject', () => repo.reject(i)),
    findResult: (id) => retry('findResult', () => repo.findResult(id)),
  };
}
