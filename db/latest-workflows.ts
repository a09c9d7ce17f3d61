/** The latest usable workflows one model wrote: what the side-by-side view pairs up. */
import { and, desc, eq, gt, isNotNull, sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { workflowGenerations } from './schema.ts';

export interface WrittenWorkflow {
  readonly jobId: string;
  readonly userId: string | null;
  readonly agentId: string | null;
  readonly request: unknown;
  readonly workflow: unknown;
  readonly stepsGenerated: number | null;
  readonly costUsd: string;
  readonly fallbackReason: string | null;
  readonly finishedAt: Date | null;
}

/** Up to `limit` workflows `model` wrote that passed validation, finished within `days`, newest first. */
export async function latestWorkflowsOf(db: Database, model: string, days: number, limit: number): Promise<WrittenWorkflow[]> {
  const w = workflowGenerations;
  return db
    .select({
      jobId: w.jobId,
      userId: w.userId,
      agentId: w.agentId,
      request: w.request,
      workflow: w.workflow,
      stepsGenerated: w.stepsGenerated,
      costUsd: w.costUsd,
      fallbackReason: w.fallbackReason,
      finishedAt: w.finishedAt,
    })
    .from(w)
    .where(and(eq(w.generatorUsed, model), eq(w.validationPassed, true), isNotNull(w.workflow), gt(w.finishedAt, sql`now() - make_interval(secs => ${Math.round(days * 86_400)})`)))
    .orderBy(desc(w.finishedAt), desc(w.jobId))
    .limit(limit);
}
