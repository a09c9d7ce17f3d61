/** What a finished request looks like to callers: the job's return value, the stored row, the API. */
import type { FieldError } from './errors.ts';
import type { FinalStatus, HandoverReason } from './outcomes.ts';
import type { Workflow, WorkflowStep } from './workflow-schema.ts';

export interface TokenTotals {
  readonly input: number;
  readonly output: number;
  readonly cached_input: number;
  readonly cache_write: number;
  readonly total: number;
}

export interface GenerationResult {
  readonly job_id: string;
  readonly status: FinalStatus;
  readonly workflow: Workflow | null;
  readonly pilot_steps: WorkflowStep[] | null;
  readonly steps_generated: number;
  /** The model whose answer is the result; null when none answered usefully. */
  readonly generator_used: string | null;
  readonly primary_model: string | null;
  /** Why the primary was not used; null when the primary produced the result. */
  readonly fallback_reason: HandoverReason | null;
  readonly validation_passed: boolean | null;
  readonly validation_errors: readonly FieldError[] | null;
  /** For failed and rejected requests: the last outcome or the rejection reason. */
  readonly failure_reason: string | null;
  readonly attempts: number;
  readonly tokens: TokenTotals;
  /** All attempts of the request, wasted ones included. */
  readonly cost_usd: number;
  /** The same amount as an exact decimal string. */
  readonly cost_usd_exact: string;
  readonly generation_time_ms: number | null;
}

/** What a primary job returns when it hands the request to the fallback queue. */
export interface HandoverResult {
  readonly job_id: string;
  readonly status: 'handed_over';
  readonly fallback_job_id: string;
  readonly reason: HandoverReason;
}
