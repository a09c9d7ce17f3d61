/**
 * The lost-request sweep: finds requests the producer accepted (their row is in Postgres, the
 * caller got 202) that have no final row and no job in Redis any more, and either puts them back
 * in the queue from the stored request, under the same job id, or records them as failed with
 * `lost_in_queue`. A Redis failover can lose acknowledged jobs (replication is asynchronous);
 * this turns each such loss into a recovery or a recorded failure, never a silence.
 *
 * One sweep runs at a time across every worker replica: each tick takes a Postgres advisory lock
 * (pg_try_advisory_xact_lock) and skips when another holds it. Not a BullMQ repeatable job: its
 * schedule would live in the Redis whose losses the sweep is there to repair.
 */
import type { Queue } from 'bullmq';
import type { AcceptedRequestStore, UnfinishedRequest } from '../db/accepted-requests.ts';
import type { GenerationRepository } from '../db/generation-repository.ts';
import { coerceError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { REQUEST_FAILURE_REASONS } from '../shared/outcomes.ts';
import { GENERATE_JOB, type GenerationRequest, parseGenerationRequest, PRIMARY_JOB_OPTIONS, stepJobId } from '../shared/jobs.ts';
import type { RedisConnection } from '../shared/redis.ts';
import type { Clock } from './clock.ts';
import { MAX_FALLBACK_CHAIN } from '../shared/settings.ts';
import type { SettingsSource } from './settings-source.ts';

/** What the sweep asks of Redis and BullMQ. */
export interface QueuedJobs {
  /** True when Redis holds the request's primary job or any of its step jobs, in any state. */
  has(jobId: string): Promise<boolean>;
  /** Adds the primary job again under its own id; adding an id that exists adds nothing. */
  requeue(jobId: string, request: GenerationRequest, enqueuedAt: Date): Promise<void>;
}

/** QueuedJobs on the primary and fallback queues. */
export function queuedJobs(redis: RedisConnection, primary: Queue, fallback: Queue): QueuedJobs {
  return {
    // One EXISTS over the job hashes of every step a request can reach (the primary and each
    // step of the longest chain): they share the queue prefix's slot on a Cluster. Any one of
    // them held means the request is still BullMQ's: a lost later step also lost the completion
    // of the step before it, which then runs again; and an earlier job removed (removeOnComplete)
    // before its successor was lost leaves no job here, so the request is put back and resumes
    // from its recorded attempts.
    has: async (jobId) => {
      const steps = Array.from({ length: MAX_FALLBACK_CHAIN }, (_, i) => fallback.toKey(stepJobId(jobId, i + 1)));
      return (await redis.exists(primary.toKey(jobId), ...steps)) > 0;
    },
    async requeue(jobId, request, enqueuedAt) {
      // The original acceptance time: the worker counts the request's deadline from the job's timestamp.
      await primary.add(GENERATE_JOB, request, { ...PRIMARY_JOB_OPTIONS, jobId, timestamp: enqueuedAt.getTime() });
    },
  };
}

export type LostRequestAction = 'requeued' | 'failed';

export interface LostRequestSweepOptions {
  /** How often a tick runs. */
  readonly intervalMs: number;
  /** How old an unfinished row must be before its missing job counts as lost (covers the producer's write-then-enqueue). */
  readonly graceMs: number;
  /** Put-backs of one request before it is recorded as failed instead. */
  readonly maxRequeues: number;
  /** The deadline of a request without `deadlineMs`, from its acceptance. */
  readonly defaultDeadlineMs: number;
  /** Rows read per tick. */
  readonly batch?: number;
}

export interface LostRequestSweepDeps {
  readonly store: Pick<AcceptedRequestStore, 'exclusively' | 'unfinishedOlderThan' | 'requeue'>;
  readonly repo: Pick<GenerationRepository, 'finish'>;
  readonly jobs: QueuedJobs;
  readonly settings: Pick<SettingsSource, 'current'>;
  readonly onLost: (action: LostRequestAction) => void;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface SweepReport {
  /** False when another process held the lock. */
  readonly ran: boolean;
  readonly requeued: readonly string[];
  readonly failed: readonly string[];
}

export class LostRequestSweep {
  private readonly deps: LostRequestSweepDeps;
  private readonly options: LostRequestSweepOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(deps: LostRequestSweepDeps, options: LostRequestSweepOptions) {
    this.deps = deps;
    this.options = options;
  }

  start(): void {
    const tick = () => {
      this.running = this.sweepOnce()
        .catch((err: unknown) => this.deps.log.warn({ err: coerceError(err).message }, 'lost-request sweep failed; next tick retries'))
        .finally(() => {
          this.running = undefined;
          if (this.timer) this.timer = setTimeout(tick, this.options.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, this.options.intervalMs).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One tick: under the lock, every unfinished request past the grace period whose jobs Redis lacks. */
  async sweepOnce(): Promise<SweepReport> {
    const requeued: string[] = [];
    const failed: string[] = [];
    const ran = await this.deps.store.exclusively(async () => {
      const rows = await this.deps.store.unfinishedOlderThan(this.options.graceMs, this.options.batch ?? 500);
      // A Redis error stops the tick here: a job that cannot be looked up is never taken for lost.
      const present = await Promise.all(rows.map((r) => this.deps.jobs.has(r.jobId)));
      for (const [i, row] of rows.entries()) {
        if (present[i]) continue;
        const action = await this.recover(row);
        if (action === 'requeued') requeued.push(row.jobId);
        else if (action === 'failed') failed.push(row.jobId);
      }
    });
    return { ran, requeued, failed };
  }

  /** Puts one lost request back, or records its failure; null when it finished meanwhile. */
  private async recover(row: UnfinishedRequest): Promise<LostRequestAction | null> {
    const { clock, log } = this.deps;
    let request: GenerationRequest | null = null;
    try {
      request = parseGenerationRequest(row.request);
    } catch {
      // The producer stored it after checking it; a row that fails now cannot be run again.
    }
    const deadlineAt = row.enqueuedAt.getTime() + (request?.deadlineMs ?? this.options.defaultDeadlineMs);
    const lostFor = Math.round((clock.now() - row.enqueuedAt.getTime()) / 1000);
    const context = { jobId: row.jobId, acceptedAt: row.enqueuedAt.toISOString(), pickedUp: row.startedAt !== null, requeues: row.requeues };
    if (request && clock.now() < deadlineAt && row.requeues < this.options.maxRequeues) {
      // The add runs inside the transaction that counts it: see AcceptedRequestStore.requeue.
      const put = await this.deps.store.requeue(row, { picked_up: row.startedAt !== null, accepted_at: context.acceptedAt }, () => this.deps.jobs.requeue(row.jobId, request!, row.enqueuedAt));
      if (!put) return null;
      this.deps.onLost('requeued');
      log.warn(context, 'an accepted request had no job in Redis (lost in a failover?): put back in the queue from its stored request');
      return 'requeued';
    }
    const why = !request ? 'its stored request no longer passes the contract' : clock.now() >= deadlineAt ? 'its deadline had passed' : `it was put back ${row.requeues} times already`;
    const settings = this.deps.settings.current();
    const result = await this.deps.repo.finish(
      {
        jobId: row.jobId,
        userId: row.userId,
        agentId: row.agentId,
        status: 'failed',
        workflow: null,
        stepsGenerated: 0,
        generatorUsed: null,
        primaryModel: row.primaryModel ?? settings.primaryModel,
        fallbackModel: settings.enableFallback ? settings.fallbackModel : null,
        fallbackReason: null,
        validationPassed: null,
        validationErrors: null,
        failureReason: `${REQUEST_FAILURE_REASONS.lostInQueue}: accepted ${lostFor} s ago, its job was no longer in Redis, and it was not put back: ${why}`,
        finishedAt: new Date(clock.now()),
      },
      null,
    );
    // A worker that finished it first wrote the one final row; finish returned that row.
    if (!result.failure_reason?.startsWith(REQUEST_FAILURE_REASONS.lostInQueue)) return null;
    this.deps.onLost('failed');
    log.error({ ...context, why }, 'an accepted request had no job in Redis (lost in a failover?) and could not be put back: recorded as failed');
    return 'failed';
  }
}
