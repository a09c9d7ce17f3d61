/**
 * Closed sets used everywhere: audit rows, attempt rows, metrics labels and job results.
 */

/**
 * Why a model's answer was not a usable workflow. `unstorable`: it holds text Postgres cannot
 * store (NUL, a lone surrogate; shared/storable-text.ts).
 */
export const VALIDATION_FAILURE_KINDS = ['unparseable', 'truncated', 'refusal', 'empty', 'schema', 'semantic', 'unstorable'] as const;
export type ValidationFailureKind = (typeof VALIDATION_FAILURE_KINDS)[number];

/** Why a model call produced no answer at all. */
export const CALL_FAILURE_KINDS = ['rate_limit', 'timeout', 'api_error', 'auth_error', 'model_unavailable', 'quota_exhausted', 'bad_request'] as const;
export type CallFailureKind = (typeof CALL_FAILURE_KINDS)[number];

/** The classified outcome of one model attempt. */
export const ATTEMPT_OUTCOMES = ['ok', ...VALIDATION_FAILURE_KINDS, ...CALL_FAILURE_KINDS] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];
/** Every outcome but `ok`: why an attempt (and a hand-over) did not give the result. */
export const FAILURE_REASONS = [...VALIDATION_FAILURE_KINDS, ...CALL_FAILURE_KINDS] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Why a step was skipped without a call: its model's circuit is open (shared/model-circuit.ts). */
export const SKIP_REASONS = ['circuit_open'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** Why a request moved on to the next step of its ladder: its step's last outcome, or why the step was skipped. */
export const HANDOVER_REASONS = [...FAILURE_REASONS, ...SKIP_REASONS] as const;
export type HandoverReason = (typeof HANDOVER_REASONS)[number];

/**
 * Call failures worth another try of the same model after a pause. Never `model_unavailable`
 * (404, retired), `quota_exhausted` (billing) or `bad_request` (a 400 the vendor refuses again):
 * those hand over at once.
 */
export const TRANSIENT_OUTCOMES: ReadonlySet<AttemptOutcome> = new Set<AttemptOutcome>(['rate_limit', 'timeout', 'api_error']);

export function isValidationFailure(o: AttemptOutcome | HandoverReason): o is ValidationFailureKind {
  return (VALIDATION_FAILURE_KINDS as readonly string[]).includes(o);
}

/** Final status of a request, as stored in workflow_generations and returned to callers. */
export const GENERATION_STATUSES = ['queued', 'succeeded', 'invalid', 'failed', 'rejected'] as const;
export type GenerationStatus = (typeof GENERATION_STATUSES)[number];
export type FinalStatus = Exclude<GenerationStatus, 'queued'>;

/** The ladder's steps: the primary, then the fallback chain. The role a final outcome is counted under. */
export const STEP_ROLES = ['primary', 'fallback'] as const;
export type StepRole = (typeof STEP_ROLES)[number];

/** An attempt's role: its step's, or `repair` when it re-asked its step's model with that model's own validation errors. */
export const ATTEMPT_ROLES = [...STEP_ROLES, 'repair'] as const;
export type AttemptRole = (typeof ATTEMPT_ROLES)[number];

export const AUDIT_ACTIONS = {
  generated: 'WORKFLOW_GENERATED',
  fallback: 'WORKFLOW_GENERATION_FALLBACK',
  failed: 'WORKFLOW_GENERATION_FAILED',
  rejected: 'WORKFLOW_GENERATION_REJECTED',
  /** Not final: the lost-request sweep put an accepted request whose job Redis lost back in the queue. */
  requeued: 'WORKFLOW_GENERATION_REQUEUED',
  settingsUpdated: 'SETTINGS_UPDATED',
  modelCatalogUpdated: 'MODEL_CATALOG_UPDATED',
} as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[keyof typeof AUDIT_ACTIONS];
/** The actions that end a request: at most one of them per request (a unique index holds it). */
export const FINAL_AUDIT_ACTIONS = [AUDIT_ACTIONS.generated, AUDIT_ACTIONS.failed, AUDIT_ACTIONS.rejected] as const;

export const AUDIT_SEVERITIES = ['info', 'warning', 'error'] as const;
export type AuditSeverity = (typeof AUDIT_SEVERITIES)[number];

/**
 * Why a request failed when no attempt's outcome says it; each is the start of its
 * `failure_reason` (`deadline_exceeded: …`). Attempts failing end a request with their outcome.
 */
export const REQUEST_FAILURE_REASONS = {
  /** Its deadline passed while transient failures were being retried (every attempt recorded). */
  deadlineExceeded: 'deadline_exceeded',
  /** The database refused its result; the paid attempt is recorded, no model is called again. */
  storageRefused: 'storage_refused',
  /** The queue gave up on it (infrastructure retries spent, or its worker died on it too often). */
  abandoned: 'abandoned',
  /**
   * It was accepted (its row written, 202 answered) but its job vanished from Redis (a failover
   * promoted a replica that never got it) and it could not be put back: its deadline had passed,
   * or it had been put back too often. Recorded by the lost-request sweep.
   */
  lostInQueue: 'lost_in_queue',
  /** The next call's worst-case price would have taken its spend past the cost cap (orchestrator_max_cost_per_request_usd). */
  costCap: 'cost_cap',
} as const;

/** Why a job was rejected without a model call: the `reason` of its GENERATION_REJECTED failure. */
export const REJECTION_REASONS = {
  /** A request that breaks the job contract (its errors name each bad field). */
  invalidRequest: 'invalid_request',
  /** A fallback job the worker itself wrote wrongly: a bug, never retried. */
  malformedJob: 'malformed_job',
} as const;
