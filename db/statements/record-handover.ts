/**
 * recordHandover: the failed attempt and the FALLBACK audit row (at most one per step of the ladder),
 * atomically, and only when the request's row exists (`hasRow` says whether it did).
 */
import { sql } from 'drizzle-orm';
import { paramsRow, placeholderValues } from '../columns.ts';
import { defineStatement } from '../port.ts';
import { ATTEMPT_COLUMNS, type AttemptRow } from '../rows/attempt.ts';
import { FALLBACK_ACTION, insertAttempts, WARNING } from './fragments.ts';

export interface HandoverValues {
  readonly attempt: AttemptRow;
  readonly userId: string | null;
  readonly agentId: string | null;
  readonly jobId: string;
  readonly details: unknown;
}

const jobId = sql`${sql.placeholder('jobId')}::text`;

export const RECORD_HANDOVER = defineStatement(
  'wo_record_handover',
  sql`
with attempt_input as (${paramsRow(ATTEMPT_COLUMNS, 'a')}),
attempt as (${insertAttempts('attempt_input', sql`job_id`)}),
audited as (
  insert into audit_logs (action, severity, user_id, agent_id, job_id, details)
  select ${FALLBACK_ACTION}, ${WARNING}, ${sql.placeholder('userId')}::text, ${sql.placeholder('agentId')}::text, ${jobId}, ${sql.placeholder('details')}::jsonb
  where exists (select 1 from workflow_generations where job_id = ${jobId})
  on conflict (job_id, (coalesce((details ->> 'step')::integer, 1))) where action = ${FALLBACK_ACTION} do nothing
)
select exists (select 1 from workflow_generations where job_id = ${jobId}) as "hasRow"`,
  (v: HandoverValues) => ({
    ...placeholderValues(ATTEMPT_COLUMNS, 'a', v.attempt),
    userId: v.userId,
    agentId: v.agentId,
    jobId: v.jobId,
    details: JSON.stringify(v.details),
  }),
);
