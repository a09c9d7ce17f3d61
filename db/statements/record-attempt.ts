/** recordAttempt: one attempt, only when the request's row exists (`hasRow` says whether it did). */
import { sql } from 'drizzle-orm';
import { paramsRow, placeholderValues } from '../columns.ts';
import { defineStatement } from '../port.ts';
import { ATTEMPT_COLUMNS, type AttemptRow } from '../rows/attempt.ts';
import { insertAttempts } from './fragments.ts';

export const RECORD_ATTEMPT = defineStatement(
  'wo_record_attempt',
  sql`
with attempt_input as (${paramsRow(ATTEMPT_COLUMNS, 'a')}),
attempt as (${insertAttempts('attempt_input', sql`job_id`)})
select exists (select 1 from workflow_generations where job_id = ${sql.placeholder('a.job_id')}::text) as "hasRow"`,
  (a: AttemptRow) => placeholderValues(ATTEMPT_COLUMNS, 'a', a),
);
