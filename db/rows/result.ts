/**
 * A request's result: the columns of workflow_generations a caller sees, and the one mapper from
 * them to the GenerationResult the job returns, the API serves and the producer replays.
 */
import { getTableColumns } from 'drizzle-orm';
import type { GenerationResult } from '../../shared/generation-result.ts';
import { formatUsd, parseUsd, usdToNumber } from '../../shared/money.ts';
import type { FieldError } from '../../shared/errors.ts';
import type { FailureReason, FinalStatus } from '../../shared/outcomes.ts';
import type { Workflow } from '../../shared/workflow-schema.ts';
import type { RowOf } from '../columns.ts';
import { workflowGenerations } from '../schema.ts';

const c = getTableColumns(workflowGenerations);
/** The columns rowToResult reads: what the hot-path statements return of a request's row. */
export const RESULT_COLUMNS = {
  jobId: c.jobId,
  status: c.status,
  workflow: c.workflow,
  stepsGenerated: c.stepsGenerated,
  generatorUsed: c.generatorUsed,
  primaryModel: c.primaryModel,
  fallbackReason: c.fallbackReason,
  validationPassed: c.validationPassed,
  validationErrors: c.validationErrors,
  failureReason: c.failureReason,
  attempts: c.attempts,
  inputTokens: c.inputTokens,
  outputTokens: c.outputTokens,
  cachedInputTokens: c.cachedInputTokens,
  cacheWriteTokens: c.cacheWriteTokens,
  totalTokens: c.totalTokens,
  costUsd: c.costUsd,
  generationTimeMs: c.generationTimeMs,
};
export type ResultRow = RowOf<typeof RESULT_COLUMNS>;

/** Accepts a full row or just the result columns (the hot-path statements return only those). */
export function rowToResult(row: ResultRow): GenerationResult {
  const workflow = (row.workflow as Workflow | null) ?? null;
  return {
    job_id: row.jobId,
    status: row.status as FinalStatus,
    workflow,
    pilot_steps: workflow?.pilot_steps ?? null,
    steps_generated: row.stepsGenerated ?? 0,
    generator_used: row.generatorUsed,
    primary_model: row.primaryModel,
    fallback_reason: (row.fallbackReason as FailureReason | null) ?? null,
    validation_passed: row.validationPassed,
    validation_errors: (row.validationErrors as FieldError[] | null) ?? null,
    failure_reason: row.failureReason,
    attempts: row.attempts,
    tokens: {
      input: row.inputTokens,
      output: row.outputTokens,
      cached_input: row.cachedInputTokens,
      cache_write: row.cacheWriteTokens,
      total: row.totalTokens,
    },
    cost_usd: usdToNumber(parseUsd(row.costUsd)),
    cost_usd_exact: formatUsd(parseUsd(row.costUsd)),
    generation_time_ms: row.generationTimeMs,
  };
}
