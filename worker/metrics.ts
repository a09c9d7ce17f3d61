/**
 * Every metric the worker exports, in one place. Labels come from closed sets only (model ids
 * from the catalog, outcomes, reasons, queue names): never user, agent or job ids.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DEFAULT_CATALOG } from '../shared/default-catalog.ts';
import { configuredModels, type ResolvedSettings } from '../shared/settings.ts';
import { STEP_ROLES, type HandoverReason, type FinalStatus, type AttemptRole, type StepRole } from '../shared/outcomes.ts';
import type { TokenUsage } from '../shared/money.ts';
import type { LostRequestAction } from './lost-request-sweep.ts';
import type { BatchReport } from '../db/write-batcher.ts';
import { type QueueDepthSource, registerQueueDepth } from '../shared/queue-depth.ts';
import type { AttemptResult } from './attempt-runner.ts';

export { QUEUE_STATES, type QueueDepthSource } from '../shared/queue-depth.ts';

export interface WorkerMetrics {
  recordAttempt(role: AttemptRole, result: AttemptResult): void;
  /** `step`: the ladder step handed to (1: the fallback, k: the chain's k-th model); default 1. */
  recordFallback(primaryModel: string, fallbackModel: string, reason: HandoverReason, step?: number): void;
  /** `via`: which role produced the final outcome (none for rejected requests). */
  recordFinal(status: FinalStatus, generator: string | null, via: StepRole | 'none', durationMs: number | null): void;
  recordPause(modelId: string): void;
  /** The lost-request sweep found an accepted request without its job: put back, or recorded as failed. */
  recordLost(action: LostRequestAction): void;
  /** A batch of `begin` or `finish` writes sent to Postgres (db/write-batcher.ts). */
  recordWriteBatch(write: 'begin' | 'finish', report: BatchReport): void;
  /** The models the settings in force name, with their vendor's shutdown time. */
  recordConfiguredModels(settings: ResolvedSettings): void;
}

export function createWorkerMetrics(registry: Registry, queues: readonly QueueDepthSource[] = []): WorkerMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'orchestrator_workflow_requests_total',
    help: 'Finished generation requests by final status, the model whose answer is the result (none when no model answered usefully) and the role that produced the outcome (primary, fallback, none).',
    labelNames: ['outcome', 'generator', 'via'],
    registers,
  });
  // Every final outcome at zero from the start, so increase() and rate() also count the first
  // request of each kind (a series first scraped at 1 loses that increment), and the fallback
  // ratio has a denominator before the first fallback.
  for (const via of STEP_ROLES) {
    for (const model of DEFAULT_CATALOG.models) for (const outcome of ['succeeded', 'invalid'] as const) requests.inc({ outcome, generator: model.id, via }, 0);
    requests.inc({ outcome: 'failed', generator: 'none', via }, 0);
  }
  requests.inc({ outcome: 'rejected', generator: 'none', via: 'none' }, 0);
  const lost = new Counter({
    name: 'orchestrator_lost_requests_total',
    help: 'Accepted requests the lost-request sweep found with no job in Redis (a failover lost it), by action: requeued from the stored request, or failed (recorded as lost_in_queue).',
    labelNames: ['action'],
    registers,
  });
  for (const action of ['requeued', 'failed'] as const) lost.inc({ action }, 0);
  const fallbacks = new Counter({
    name: 'orchestrator_fallbacks_total',
    help: 'Requests handed from the primary model to the fallback model, by reason.',
    labelNames: ['primary_model', 'fallback_model', 'reason'],
    registers,
  });
  const ladderHandovers = new Counter({
    name: 'orchestrator_ladder_handovers_total',
    help: 'Hand-overs to each step of the ladder (1: the fallback, k: the chain\'s k-th model), by reason (an attempt\'s failure, or circuit_open for a skipped step).',
    labelNames: ['step', 'reason'],
    registers,
  });
  const repairs = new Counter({
    name: 'orchestrator_repairs_total',
    help: 'Repair calls (a model re-asked with its own validation errors) by model and outcome: ok, or what was still wrong.',
    labelNames: ['model', 'outcome'],
    registers,
  });
  // At zero for every catalog model from the start, like the request counts: a panel and an
  // increase() then read 0, not "no data", while repairs are off or none has happened yet.
  for (const model of DEFAULT_CATALOG.models) repairs.inc({ model: model.id, outcome: 'ok' }, 0);
  const attempts = new Counter({
    name: 'orchestrator_model_attempts_total',
    help: 'Model calls by model, role and classified outcome.',
    labelNames: ['model', 'role', 'outcome'],
    registers,
  });
  const attemptDuration = new Histogram({
    name: 'orchestrator_model_attempt_duration_seconds',
    help: 'Duration of one model call, from request to classified outcome.',
    labelNames: ['model', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120],
    registers,
  });
  const validations = new Counter({
    name: 'orchestrator_validation_results_total',
    help: 'Validation of model answers by model, result (pass or fail) and failure kind (none on pass).',
    labelNames: ['model', 'result', 'kind'],
    registers,
  });
  const tokens = new Counter({
    name: 'orchestrator_model_tokens_total',
    help: 'Tokens billed by model and direction (input, output, cached_input, cache_write).',
    labelNames: ['model', 'direction'],
    registers,
  });
  const cost = new Counter({
    name: 'orchestrator_model_cost_usd_total',
    help: 'Spend in US dollars by model, failed attempts included.',
    labelNames: ['model'],
    registers,
  });
  const pauses = new Counter({
    name: 'orchestrator_rate_limit_pauses_total',
    help: 'Pauses of a model started because the vendor answered 429.',
    labelNames: ['model'],
    registers,
  });
  const generationDuration = new Histogram({
    name: 'orchestrator_generation_duration_seconds',
    help: 'From first pick-up of a request to its final outcome, fallback included.',
    labelNames: ['outcome'],
    buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300],
    registers,
  });
  const writeBatches = new Histogram({
    name: 'orchestrator_db_write_batch_size',
    help: 'Writes per statement of the group-committed request writes (begin, finish), by how the batch was written: single, batched, or one_by_one after the batch statement failed.',
    labelNames: ['write', 'written'],
    buckets: [1, 2, 5, 10, 20, 50],
    registers,
  });
  registerQueueDepth(registry, queues);

  const addTokens = (model: string, u: TokenUsage) => {
    if (u.inputTokens) tokens.inc({ model, direction: 'input' }, u.inputTokens);
    if (u.outputTokens) tokens.inc({ model, direction: 'output' }, u.outputTokens);
    if (u.cachedInputTokens) tokens.inc({ model, direction: 'cached_input' }, u.cachedInputTokens);
    if (u.cacheWriteTokens) tokens.inc({ model, direction: 'cache_write' }, u.cacheWriteTokens);
  };

  const shutdown = new Gauge({
    name: 'orchestrator_configured_model_shutdown_timestamp_seconds',
    help: 'When the vendor stops serving each configured model (Unix seconds, from the catalog); absent when no shutdown is announced. Alerts ConfiguredModelRetiringSoon and ConfiguredModelRetired read it.',
    labelNames: ['role', 'model', 'replacement'],
    registers,
  });

  return {
    recordConfiguredModels(s) {
      shutdown.reset();
      for (const { role, model } of configuredModels(s)) {
        if (model.shutdownAt) shutdown.set({ role, model: model.id, replacement: s.catalog.replacementOf(model)?.id ?? 'none' }, model.shutdownAt.getTime() / 1000);
      }
    },
    recordAttempt(role, r) {
      const model = r.model.id;
      if (role === 'repair') repairs.inc({ model, outcome: r.outcome });
      attempts.inc({ model, role, outcome: r.outcome });
      attemptDuration.observe({ model, outcome: r.outcome }, r.latencyMs / 1000);
      addTokens(model, r.usage);
      cost.inc({ model }, Number(r.cost) / 1e12);
      if (r.outcome === 'ok') validations.inc({ model, result: 'pass', kind: 'none' });
      else if (r.httpStatus === 200) validations.inc({ model, result: 'fail', kind: r.outcome });
    },
    recordFallback(primaryModel, fallbackModel, reason, step = 1) {
      // Bounded: the settings allow at most MAX_FALLBACK_CHAIN steps after the primary.
      ladderHandovers.inc({ step: String(step), reason });
      fallbacks.inc({ primary_model: primaryModel, fallback_model: fallbackModel, reason });
    },
    recordFinal(status, generator, via, durationMs) {
      requests.inc({ outcome: status, generator: generator ?? 'none', via });
      if (durationMs !== null) generationDuration.observe({ outcome: status }, durationMs / 1000);
    },
    recordPause(modelId) {
      pauses.inc({ model: modelId });
    },
    recordLost(action) {
      lost.inc({ action });
      if (action === 'failed') requests.inc({ outcome: 'failed', generator: 'none', via: 'none' });
    },
    recordWriteBatch(write, report) {
      writeBatches.observe({ write, written: report.written }, report.size);
    },
  };
}
