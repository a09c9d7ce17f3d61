/**
 * Requests as the producer accepted them, before any worker saw them: the row the HTTP API
 * writes before it answers 202, and what the lost-request sweep reads and writes about them.
 *
 * Redis replicates asynchronously, so a failover can lose a job the producer already answered
 * 202 for. The row is the record that the request was accepted; the sweep compares unfinished
 * rows with Redis and puts lost ones back, or records them as failed (worker/lost-request-sweep.ts).
 */
import { and, asc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { GenerationRequest } from '../shared/jobs.ts';
import { AUDIT_ACTIONS, REQUEST_FAILURE_REASONS } from '../shared/outcomes.ts';
import type { Database } from './client.ts';
import { auditLogs, workflowGenerations } from './schema.ts';

export interface AcceptedRequest {
  readonly jobId: string;
  readonly userId: string;
  readonly agentId: string;
  readonly request: GenerationRequest;
  readonly enqueuedAt: Date;
}

/** An unfinished request as the sweep sees it. */
export interface UnfinishedRequest {
  readonly jobId: string;
  readonly userId: string | null;
  readonly agentId: string | null;
  readonly request: unknown;
  readonly enqueuedAt: Date;
  /** When a worker first picked it up; null while it never was. */
  readonly startedAt: Date | null;
  readonly primaryModel: string | null;
  readonly requeues: number;
}

/**
 * The sweep's lock: `pg_try_advisory_xact_lock` on this key. A transaction-level lock, so it is
 * released at commit even when the sweep's process dies, and it works through PgBouncer in
 * transaction mode (a session lock would stay with a pooled server connection).
 */
export const SWEEP_LOCK_KEY = 0x77665357; // 'wfSW'

export class AcceptedRequestStore {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  /** Writes the accepted request's row (status queued); nothing when it exists (a replay, a retry). */
  async recordAccepted(a: AcceptedRequest): Promise<void> {
    await this.db
      .insert(workflowGenerations)
      .values({ jobId: a.jobId, userId: a.userId, agentId: a.agentId, request: a.request, enqueuedAt: a.enqueuedAt })
      .onConflictDoNothing({ target: workflowGenerations.jobId });
  }

  /**
   * Removes the row of a request the producer then refused (its enqueue failed, the caller got
   * 503), unless a worker has picked it up meanwhile: then it did reach Redis, and runs.
   */
  async forgetRefused(jobId: string): Promise<void> {
    await this.db.delete(workflowGenerations).where(and(eq(workflowGenerations.jobId, jobId), eq(workflowGenerations.status, 'queued'), isNull(workflowGenerations.startedAt)));
  }

  /**
   * Runs `sweep` only if no other process is sweeping (on any replica), inside the transaction
   * that holds the lock; false when another holds it. The sweep's writes go through `db`, not
   * the transaction, so each is committed on its own (a late failure rolls none of them back).
   */
  async exclusively(sweep: () => Promise<void>): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.execute<{ locked: boolean }>(sql`select pg_try_advisory_xact_lock(${SWEEP_LOCK_KEY}) as locked`);
      if (!row?.locked) return false;
      await sweep();
      return true;
    });
  }

  /** Unfinished requests whose row is older than `graceMs` (by the database's clock), oldest first. */
  async unfinishedOlderThan(graceMs: number, limit: number): Promise<UnfinishedRequest[]> {
    const g = workflowGenerations;
    return this.db
      .select({ jobId: g.jobId, userId: g.userId, agentId: g.agentId, request: g.request, createdAt: g.createdAt, enqueuedAt: g.enqueuedAt, startedAt: g.startedAt, primaryModel: g.primaryModel, requeues: g.requeues })
      .from(g)
      .where(and(eq(g.status, 'queued'), lt(g.createdAt, sql`now() - make_interval(secs => ${graceMs / 1000})`)))
      .orderBy(asc(g.createdAt))
      .limit(limit)
      .then((rows) => rows.map((r) => ({ ...r, enqueuedAt: r.enqueuedAt ?? r.createdAt })));
  }

  /**
   * Counts a put-back and writes its audit row (not a final one), once per `r.requeues`, and
   * runs `putBack` before committing them: when it throws nothing is counted (a refused add must
   * not use up the request's put-backs), and a put-back job that finishes at once waits for the
   * commit on the row's lock instead of finding nothing to count. False, with nothing run, when
   * the request finished or another sweep counted it meanwhile.
   */
  async requeue(r: UnfinishedRequest, details: Record<string, unknown>, putBack: () => Promise<void>): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const g = workflowGenerations;
      const [row] = await tx
        .update(g)
        .set({ requeues: sql`${g.requeues} + 1`, updatedAt: new Date() })
        .where(and(eq(g.jobId, r.jobId), eq(g.status, 'queued'), eq(g.requeues, r.requeues)))
        .returning({ requeues: g.requeues });
      if (!row) return false;
      await tx.insert(auditLogs).values({
        action: AUDIT_ACTIONS.requeued,
        severity: 'warning',
        userId: r.userId,
        agentId: r.agentId,
        jobId: r.jobId,
        details: { reason: REQUEST_FAILURE_REASONS.lostInQueue, requeues: row.requeues, ...details },
      });
      await putBack();
      return true;
    });
  }
}
