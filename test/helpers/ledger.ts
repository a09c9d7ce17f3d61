/**
 * The invariants every fault test ends with, read from the database and the queues: each
 * request has exactly one final result row and one final audit row, no job is stuck in active,
 * and every attempt is recorded once and counted in its request's totals.
 */
import type { Queue } from 'bullmq';
import { eq } from 'drizzle-orm';
import { expect } from 'vitest';
import { auditLogs, generationAttempts, workflowGenerations } from '../../db/schema.ts';
import type { TestDatabase } from './database.ts';

/** One request's rows: its result row, its attempts in order and its audit rows in order. */
export async function requestRows(db: TestDatabase, jobId: string) {
  const [gen] = await db.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, jobId));
  const attempts = await db.db.select().from(generationAttempts).where(eq(generationAttempts.jobId, jobId)).orderBy(generationAttempts.attemptNumber);
  const audits = await db.db.select().from(auditLogs).where(eq(auditLogs.jobId, jobId)).orderBy(auditLogs.id);
  return { gen: gen!, attempts, audits };
}

export async function expectCleanLedger(db: TestDatabase, ids: readonly string[], queues: readonly Queue[]): Promise<Record<string, number>> {
  const rows = await db.sql`
    select g.job_id, g.status, g.attempts, g.cost_usd::text as cost,
           (select count(*)::int from audit_logs l where l.job_id = g.job_id
              and l.action in ('WORKFLOW_GENERATED', 'WORKFLOW_GENERATION_FAILED', 'WORKFLOW_GENERATION_REJECTED')) as finals,
           (select count(*)::int from generation_attempts a where a.job_id = g.job_id) as attempt_rows,
           (select coalesce(sum(cost_usd), 0)::text from generation_attempts a where a.job_id = g.job_id) as attempt_cost
    from workflow_generations g where g.job_id in ${db.sql(ids as string[])}`;
  expect(rows.length, 'one result row per request').toBe(ids.length);
  const byStatus: Record<string, number> = {};
  for (const r of rows) {
    byStatus[r.status as string] = (byStatus[r.status as string] ?? 0) + 1;
    expect(r.status, `request ${r.job_id} is final`).not.toBe('queued');
    expect(r.finals, `request ${r.job_id} has one final audit row`).toBe(1);
    expect(r.attempts, `request ${r.job_id} counts each attempt once`).toBe(r.attempt_rows);
    expect(Number(r.cost), `request ${r.job_id} costs the sum of its attempts`).toBe(Number(r.attempt_cost));
  }
  for (const q of queues) expect((await q.getJobCounts('active')).active, `no job stuck active in ${q.name}`).toBe(0);
  return byStatus;
}
