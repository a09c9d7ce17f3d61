/**
 * The request log: finished and in-flight requests from workflow_generations, filtered and paged
 * newest first with a keyset cursor (created_at, job_id), and one request in full with its
 * attempts and audit rows.
 */
import { and, asc, desc, eq, gte, like, lt, or, type SQL } from 'drizzle-orm';
import { AUDIT_ACTIONS } from '../shared/outcomes.ts';
import type { Database } from './client.ts';
import { auditLogs, generationAttempts, workflowGenerations } from './schema.ts';

export interface GenerationFilters {
  readonly status?: string;
  readonly generator?: string;
  readonly primaryModel?: string;
  readonly fallbackReason?: string;
  readonly userId?: string;
  readonly agentId?: string;
  readonly from?: Date;
  readonly to?: Date;
  readonly jobIdPrefix?: string;
}

/** Where a page ends: the last row's creation time and job id. */
export interface LogCursor {
  readonly createdAt: Date;
  readonly jobId: string;
}

export type GenerationRow = typeof workflowGenerations.$inferSelect;

/** `%` and `_` in a prefix are literal characters, not patterns. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

function conditions(f: GenerationFilters, cursor: LogCursor | null): SQL[] {
  const w = workflowGenerations;
  const out: SQL[] = [];
  if (f.status) out.push(eq(w.status, f.status));
  if (f.generator) out.push(eq(w.generatorUsed, f.generator));
  if (f.primaryModel) out.push(eq(w.primaryModel, f.primaryModel));
  if (f.fallbackReason) out.push(eq(w.fallbackReason, f.fallbackReason));
  if (f.userId) out.push(eq(w.userId, f.userId));
  if (f.agentId) out.push(eq(w.agentId, f.agentId));
  if (f.from) out.push(gte(w.createdAt, f.from));
  if (f.to) out.push(lt(w.createdAt, f.to));
  if (f.jobIdPrefix) out.push(like(w.jobId, `${escapeLike(f.jobIdPrefix)}%`));
  if (cursor) out.push(or(lt(w.createdAt, cursor.createdAt), and(eq(w.createdAt, cursor.createdAt), lt(w.jobId, cursor.jobId)))!);
  return out;
}

/** One page, newest first; `next` is set when more rows may follow. */
export async function listGenerations(db: Database, f: GenerationFilters, cursor: LogCursor | null, limit: number): Promise<{ rows: GenerationRow[]; next: LogCursor | null }> {
  const w = workflowGenerations;
  const rows = await db
    .select()
    .from(w)
    .where(and(...conditions(f, cursor)))
    .orderBy(desc(w.createdAt), desc(w.jobId))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, next: rows.length > limit && last ? { createdAt: last.createdAt, jobId: last.jobId } : null };
}

/** One request with every attempt and audit row, or null. */
export async function generationDetail(db: Database, jobId: string) {
  const [request] = await db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, jobId));
  if (!request) return null;
  const [attempts, audit] = await Promise.all([
    db.select().from(generationAttempts).where(eq(generationAttempts.jobId, jobId)).orderBy(asc(generationAttempts.attemptNumber)),
    db.select().from(auditLogs).where(eq(auditLogs.jobId, jobId)).orderBy(asc(auditLogs.timestamp), asc(auditLogs.id)),
  ]);
  return { request, attempts, audit };
}


export type AuditRow = typeof auditLogs.$inferSelect;

/** WORKFLOW_GENERATION_FALLBACK audit rows, newest first, paged by id. */
export async function listFallbackEvents(db: Database, beforeId: number | null, limit: number): Promise<{ rows: AuditRow[]; next: number | null }> {
  const where = beforeId === null ? eq(auditLogs.action, AUDIT_ACTIONS.fallback) : and(eq(auditLogs.action, AUDIT_ACTIONS.fallback), lt(auditLogs.id, beforeId));
  const rows = await db.select().from(auditLogs).where(where).orderBy(desc(auditLogs.id)).limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, next: rows.length > limit && last ? last.id : null };
}
