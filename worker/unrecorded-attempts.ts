/**
 * Paid model attempts the database could not take, kept in Redis until a later run writes them.
 *
 * A run that has paid for a call and then finds Postgres unreachable past the port's retries
 * (db/retrying-repository.ts) fails its job, and BullMQ runs it again. That run loads the
 * request's history from Postgres, which lacks the attempt: without this keep, the policy would
 * call the model again and the first call would never reach the ledger. So the attempt is kept
 * here first, and the next run of the request (the same job, a later step's job, or the record
 * of an abandoned one) writes it before anything else (the attempt insert is keyed by
 * (job_id, attempt_number) and does nothing on conflict, so writing it twice writes it once).
 *
 * Redis, because BullMQ already needs it: a run that cannot reach Redis cannot run at all. One
 * hash per request, a field per attempt number, under the queue prefix (its {tag} under Cluster
 * keeps it in the queue's hash slot), kept for as long as a failed job is (7 days). With
 * Postgres and Redis both down the attempt is logged and lost: the one case left.
 */
import type { AttemptRecord } from '../db/generation-repository.ts';
import { formatUsd, parseUsd } from '../shared/money.ts';
import type { RedisConnection } from '../shared/redis.ts';
import type { Workflow } from '../shared/workflow-schema.ts';

/** An attempt paid for and not yet on the ledger, with what finishing from it needs. */
export interface UnrecordedAttempt {
  readonly record: AttemptRecord;
  /** The valid workflow it produced (answers are never stored, but a result is). */
  readonly workflow: Workflow | null;
  readonly stepCount: number;
}

export interface UnrecordedAttemptStore {
  /** Keeps the attempt until clear(): a later run of its request writes it. */
  keep(attempt: UnrecordedAttempt): Promise<void>;
  /** The request's kept attempts, oldest first. */
  list(originJobId: string): Promise<UnrecordedAttempt[]>;
  /** Forgets those attempts once they are written. */
  clear(originJobId: string, attemptNumbers: readonly number[]): Promise<void>;
}

/** As long as BullMQ keeps a failed job (shared/jobs.ts, removeOnFail). */
export const UNRECORDED_TTL_SECONDS = 7 * 24 * 3600;

export class RedisUnrecordedAttempts implements UnrecordedAttemptStore {
  private readonly redis: RedisConnection;
  private readonly keyPrefix: string;

  /** `keyPrefix`: the queue prefix (with its {tag} under Cluster). */
  constructor(redis: RedisConnection, keyPrefix: string) {
    this.redis = redis;
    this.keyPrefix = keyPrefix;
  }

  private key(originJobId: string): string {
    return `${this.keyPrefix}:orchestrator:unrecorded-attempts:${originJobId}`;
  }

  async keep(attempt: UnrecordedAttempt): Promise<void> {
    const key = this.key(attempt.record.jobId);
    await this.redis.multi().hset(key, String(attempt.record.attemptNumber), encodeUnrecorded(attempt)).expire(key, UNRECORDED_TTL_SECONDS).exec();
  }

  async list(originJobId: string): Promise<UnrecordedAttempt[]> {
    const fields = await this.redis.hgetall(this.key(originJobId));
    return Object.values(fields)
      .map(decodeUnrecorded)
      .sort((a, b) => a.record.attemptNumber - b.record.attemptNumber);
  }

  async clear(originJobId: string, attemptNumbers: readonly number[]): Promise<void> {
    if (attemptNumbers.length > 0) await this.redis.hdel(this.key(originJobId), ...attemptNumbers.map(String));
  }
}

const FORMAT = 1;

/** The attempt as JSON: money as its exact decimal string, dates as ISO text. */
export function encodeUnrecorded(a: UnrecordedAttempt): string {
  const { cost, startedAt, finishedAt, ...rest } = a.record;
  return JSON.stringify({ format: FORMAT, record: { ...rest, cost: formatUsd(cost), startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString() }, workflow: a.workflow, stepCount: a.stepCount });
}

export function decodeUnrecorded(text: string): UnrecordedAttempt {
  const v = JSON.parse(text) as { format: unknown; record: EncodedRecord; workflow: Workflow | null; stepCount: number };
  const r = v.record;
  if (v.format !== FORMAT || typeof r?.jobId !== 'string' || !Number.isInteger(r.attemptNumber) || typeof r.cost !== 'string') {
    throw new Error(`not a kept attempt (format ${String(v.format)})`);
  }
  const record: AttemptRecord = { ...r, cost: parseUsd(r.cost), startedAt: date(r.startedAt), finishedAt: date(r.finishedAt) };
  return { record, workflow: v.workflow ?? null, stepCount: v.stepCount ?? 0 };
}

type EncodedRecord = Omit<AttemptRecord, 'cost' | 'startedAt' | 'finishedAt'> & { cost: string; startedAt: string; finishedAt: string };

function date(iso: string): Date {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new Error(`not a kept attempt: bad date ${JSON.stringify(iso)}`);
  return d;
}

