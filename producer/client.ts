/**
 * The producer library: the seed's integration point for services written in TypeScript.
 * `enqueue` checks the contract before anything reaches Redis; `waitForResult` follows a
 * request through its fallback hand-over to the final result.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type Job, Queue, QueueEvents } from 'bullmq';
import type { RedisConnection } from '../shared/redis.ts';
import { isConnectionFailure } from '../shared/connection-errors.ts';
import { InvalidRequestError, OrchestratorError } from '../shared/errors.ts';
import { parseRequestFailure, type RequestFailure, type RequestFailureCode } from '../shared/failures.ts';
import type { GenerationResult, HandoverResult } from '../shared/generation-result.ts';
import { MAX_FALLBACK_CHAIN } from '../shared/settings.ts';
import { FALLBACK_QUEUE, GENERATE_JOB, type GenerationRequest, isValidJobId, JOB_ID_RULE, parseGenerationRequest, PRIMARY_JOB_OPTIONS, PRIMARY_QUEUE } from '../shared/jobs.ts';
import { blockingConnection, producerConnection } from '../shared/redis.ts';
import { type RedisTarget, urlTarget } from '../shared/redis-target.ts';

export interface GenerationClientOptions {
  /** A single Redis node; `redis` takes precedence. */
  readonly redisUrl?: string;
  /** Where Redis lives in any mode (see `readRedisTarget`), as the services read it from the environment. */
  readonly redis?: RedisTarget;
  /** BullMQ key prefix; must match the workers' QUEUE_PREFIX. */
  readonly queuePrefix?: string;
  /**
   * A fail-fast connection to share (see `producerConnection`), as the HTTP API does with its
   * rate limiter and health checks. The caller owns it: `close()` leaves it open.
   */
  readonly connection?: RedisConnection;
}

/**
 * The request ended without a usable workflow: `code` says how (GENERATION_INVALID, _FAILED,
 * _REJECTED), `reason` why in one closed-set word, `result` has the details (errors, spend).
 */
export class GenerationFailedError extends OrchestratorError {
  declare readonly code: RequestFailureCode;
  readonly reason: string;
  readonly result: GenerationResult | null;

  constructor(failure: RequestFailure, result: GenerationResult | null) {
    super(failure.code, failure.message, result);
    this.reason = failure.reason;
    this.result = result;
  }
}

/** The job id a request gets: derived from the idempotency key (scoped by user), else random. */
export function jobIdFor(request: Pick<GenerationRequest, 'userId' | 'idempotencyKey'>): string {
  if (request.idempotencyKey === undefined) return randomUUID();
  return `idem-${createHash('sha256').update(`${request.userId}\n${request.idempotencyKey}`).digest('hex').slice(0, 40)}`;
}

/**
 * Waiting for a result is long-lived: a Redis reconnect in the middle (the fail-fast producer
 * connection refuses commands until it is back) is waited out until the caller's deadline.
 */
async function whileReconnecting<T>(read: () => Promise<T>, deadline: number): Promise<T> {
  for (let delayMs = 50; ; delayMs = Math.min(1_000, delayMs * 2)) {
    try {
      return await read();
    } catch (err) {
      if (!isConnectionFailure(err) || Date.now() + delayMs > deadline) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

export class GenerationClient {
  private readonly queue: Queue;
  private readonly fallbackQueue: Queue;
  private events: Promise<{ primary: QueueEvents; fallback: QueueEvents; connections: RedisConnection[] }> | undefined;
  private readonly connection: RedisConnection;
  private readonly ownsConnection: boolean;

  private readonly options: GenerationClientOptions;

  constructor(options: GenerationClientOptions = {}) {
    this.options = options;
    this.ownsConnection = options.connection === undefined;
    this.connection = options.connection ?? producerConnection(this.target());
    const prefix = options.queuePrefix ?? 'wo';
    this.queue = new Queue(PRIMARY_QUEUE, { connection: this.connection, prefix });
    this.fallbackQueue = new Queue(FALLBACK_QUEUE, { connection: this.connection, prefix });
    // Each waitForResult listens on the queues until its job settles: many at once is normal.
    this.queue.setMaxListeners(0);
    this.fallbackQueue.setMaxListeners(0);
  }

  /** The primary and fallback queues, on the client's connection: for status look-ups and metrics. */
  get queues(): { readonly primary: Queue; readonly fallback: Queue } {
    return { primary: this.queue, fallback: this.fallbackQueue };
  }

  /**
   * Validates and enqueues; returns the job id. A repeated idempotency key returns the first id.
   * `jobId` replaces the derived id (the HTTP API mints ids bound to the caller's token).
   * `enqueuedAt` (epoch ms) is when the request was first accepted, for a request put back in the
   * queue: its deadline counts from then, not from the put-back.
   */
  async enqueue(request: GenerationRequest, options: { readonly jobId?: string; readonly enqueuedAt?: number } = {}): Promise<string> {
    const valid = parseGenerationRequest(request);
    if (options.jobId !== undefined && !isValidJobId(options.jobId)) {
      throw new InvalidRequestError([{ path: '', code: 'job_id', message: `the job id must be ${JOB_ID_RULE}` }]);
    }
    const jobId = options.jobId ?? jobIdFor(valid);
    await this.queue.waitUntilReady();
    const job = await this.queue.add(GENERATE_JOB, valid, { ...PRIMARY_JOB_OPTIONS, jobId, ...(options.enqueuedAt !== undefined ? { timestamp: options.enqueuedAt } : {}) });
    return job.id ?? jobId;
  }

  private target(): RedisTarget {
    return this.options.redis ?? urlTarget(this.options.redisUrl ?? 'redis://127.0.0.1:6379');
  }

  /**
   * The event readers, each started from the last event its stream held when it was made, not
   * from the first read: BullMQ's QueueEvents reads from `$` (whatever is newest when its first
   * XREAD reaches Redis), which can come after a waiter has subscribed and found its job
   * unfinished; a completion in between was then never delivered, and the waiter hung until its
   * timeout (seen once among 300 waiters on a Cluster). Pinned, every event after the waiter's
   * check is read.
   */
  private queueEvents() {
    this.events ??= (async () => {
      const target = this.target();
      const prefix = this.options.queuePrefix ?? 'wo';
      // QueueEvents block on XREAD: each needs a connection of its own.
      const connections = [blockingConnection(target), blockingConnection(target)];
      const lastIds = await Promise.all(
        [this.queue, this.fallbackQueue].map(async (q, i) => {
          const [last] = await connections[i]!.xrevrange(q.keys.events!, '+', '-', 'COUNT', 1);
          return last?.[0] ?? '0-0';
        }),
      );
      return {
        primary: new QueueEvents(PRIMARY_QUEUE, { connection: connections[0]!, prefix, lastEventId: lastIds[0]! }),
        fallback: new QueueEvents(FALLBACK_QUEUE, { connection: connections[1]!, prefix, lastEventId: lastIds[1]! }),
        connections,
      };
    })().catch((err: unknown) => {
      this.events = undefined; // the next waiter tries again
      throw err;
    });
    return this.events;
  }

  /** Resolves with the final result of a request; rejects with GenerationFailedError when it has none. */
  async waitForResult(id: string, options: { timeoutMs?: number } = {}): Promise<GenerationResult> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    const events = await this.queueEvents();
    await Promise.all([events.primary.waitUntilReady(), events.fallback.waitUntilReady()]);
    const job = await whileReconnecting(() => this.queue.getJob(id), deadline);
    if (!job) throw new OrchestratorError('NOT_FOUND', `no generation job with id ${id}`);
    let settled = await this.settle(this.queue, job, events.primary, deadline);
    // Each hand-over names the job of the next step of the ladder (the fallback, then the chain).
    for (let steps = 0; settled.status === 'handed_over'; steps++) {
      if (steps > MAX_FALLBACK_CHAIN) throw new OrchestratorError('INTERNAL', `job ${id} handed over more often than the ladder has steps`);
      const nextId = settled.fallback_job_id;
      const next = await whileReconnecting(() => this.fallbackQueue.getJob(nextId), deadline);
      if (!next) throw new OrchestratorError('NOT_FOUND', `job ${id} was handed over but its job ${nextId} is gone`);
      settled = await this.settle(this.fallbackQueue, next, events.fallback, deadline);
    }
    return settled;
  }

  private async settle(queue: Queue, job: Job, events: QueueEvents, deadline: number): Promise<GenerationResult | HandoverResult> {
    const left = deadline - Date.now();
    if (left <= 0) throw new OrchestratorError('WAIT_TIMEOUT', `job ${job.id} did not finish in time`);
    try {
      return (await job.waitUntilFinished(events, left)) as GenerationResult | HandoverResult;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/timed out before finishing/.test(message)) throw new OrchestratorError('WAIT_TIMEOUT', `job ${job.id} did not finish in ${Math.round(left)} ms`);
      const failure = parseRequestFailure(message);
      if (!failure) throw new OrchestratorError('GENERATION_FAILED', `job ${job.id} failed: ${message}`, undefined, { cause: err });
      const fresh = await queue.getJob(job.id!).catch(() => undefined);
      const progress = fresh?.progress as { stage?: string; result?: GenerationResult } | undefined;
      throw new GenerationFailedError(failure, progress?.stage === 'finished' ? (progress.result ?? null) : null);
    }
  }

  /** The seed's integration point: enqueue and wait for the workflow. */
  async generateWorkflow(request: GenerationRequest, options: { timeoutMs?: number } = {}): Promise<GenerationResult> {
    const id = await this.enqueue(request);
    return this.waitForResult(id, options);
  }

  async close(): Promise<void> {
    const events = await this.events?.catch(() => undefined);
    await Promise.all([this.queue.close(), this.fallbackQueue.close(), events?.primary.close(), events?.fallback.close()]);
    const owned = this.ownsConnection ? [this.connection] : [];
    await Promise.all([...owned, ...(events?.connections ?? [])].map((c) => c.quit().catch(() => {})));
  }
}
