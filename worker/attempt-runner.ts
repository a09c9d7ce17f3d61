/**
 * One model attempt: call, classify, validate, price. Whatever happens, the result carries the
 * usage the vendor reported and its exact cost, so failed attempts are paid for too.
 */
import { coerceError, type FieldError } from '../shared/errors.ts';
import type { GenerationRequest } from '../shared/jobs.ts';
import { costOf, type Picodollars, type TokenUsage } from '../shared/money.ts';
import type { ModelSpec } from '../shared/models.ts';
import type { AttemptOutcome } from '../shared/outcomes.ts';
import type { Workflow } from '../shared/workflow-schema.ts';
import { checkModelText, checkWorkflow, type WorkflowCheck } from '../shared/workflow-validation.ts';
import type { Clock } from './clock.ts';
import type { LlmAnswer, LlmClient } from './llm/llm-client.ts';
import { firstCallPrompt, type PromptCall } from './repair-prompt.ts';

export interface AttemptResult {
  readonly model: ModelSpec;
  readonly outcome: AttemptOutcome;
  readonly workflow: Workflow | null;
  readonly stepCount: number;
  readonly validationErrors: readonly FieldError[] | null;
  readonly errorMessage: string | null;
  readonly httpStatus: number | null;
  readonly retryAfterMs: number | null;
  readonly usage: TokenUsage;
  readonly cost: Picodollars;
  readonly latencyMs: number;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  /** Shutdown aborted the call: nothing to record, the job goes back to the queue. */
  readonly aborted: boolean;
  /** The answer that failed validation (its text, or the structured value), kept in memory for a repair; never stored. */
  readonly answer?: unknown;
}

/** The adapter for a model, built from its catalog row. */
export interface ModelClients {
  clientFor(model: ModelSpec): LlmClient;
}

export interface AttemptRunnerOptions {
  readonly clients: ModelClients;
  readonly clock: Clock;
  readonly timeoutsMs?: Readonly<Record<string, number>>;
}

export class AttemptRunner {
  private readonly options: AttemptRunnerOptions;

  constructor(options: AttemptRunnerOptions) {
    this.options = options;
  }

  timeoutFor(model: ModelSpec): number {
    return this.options.timeoutsMs?.[model.id] ?? model.timeoutMs;
  }

  /**
   * `maxTimeoutMs` shortens the model's timeout (to the time left before the request's deadline);
   * `prompt` replaces the first call's (a repair's).
   */
  async run(model: ModelSpec, request: GenerationRequest, signal: AbortSignal, onAnswer?: () => void, maxTimeoutMs = Infinity, prompt: PromptCall = firstCallPrompt(request, model)): Promise<AttemptResult> {
    const { clock, clients } = this.options;
    const startedAt = clock.now();
    const t0 = performance.now();
    const result = await clients.clientFor(model).call({
      model,
      systemPrompt: prompt.systemPrompt,
      userPrompt: prompt.userPrompt,
      maxOutputTokens: prompt.maxOutputTokens,
      signal,
      timeoutMs: Math.max(1, Math.min(this.timeoutFor(model), Math.ceil(maxTimeoutMs))),
    });
    const latencyMs = performance.now() - t0;
    const base = { model, usage: result.usage, cost: costOf(model, result.usage), latencyMs, startedAt: new Date(startedAt), finishedAt: new Date(clock.now()) };
    if (result.kind === 'failure') {
      return {
        ...base,
        outcome: result.outcome,
        workflow: null,
        stepCount: 0,
        validationErrors: null,
        errorMessage: result.message,
        httpStatus: result.httpStatus,
        retryAfterMs: result.retryAfterMs,
        aborted: result.aborted,
      };
    }
    onAnswer?.();
    const check = checkAnswerSafely(result, request);
    return {
      ...base,
      outcome: check.ok ? 'ok' : check.kind,
      workflow: check.ok ? check.workflow : null,
      stepCount: check.ok ? check.stepCount : 0,
      validationErrors: check.ok ? null : check.errors,
      errorMessage: check.ok ? null : check.errors.map((e) => `${e.path || '/'}: ${e.message}`).slice(0, 5).join('; '),
      httpStatus: 200,
      retryAfterMs: null,
      aborted: false,
      ...(check.ok ? {} : { answer: result.hasStructured ? result.structured : result.text }),
    };
  }
}

/**
 * The answer is paid for whatever it holds: a check that throws on it (a validator bug, an
 * answer no rule foresaw) is a schema failure of the answer, so the attempt is still recorded.
 */
function checkAnswerSafely(answer: LlmAnswer, request: GenerationRequest): WorkflowCheck {
  try {
    return checkAnswer(answer, request);
  } catch (err) {
    return { ok: false, kind: 'schema', errors: [{ path: '', code: 'check_failed', message: `the answer could not be checked: ${coerceError(err).message.slice(0, 300)}` }] };
  }
}

function checkAnswer(answer: LlmAnswer, request: GenerationRequest): WorkflowCheck {
  if (answer.finish === 'refusal' || answer.finish === 'content_filter' || answer.refusal) {
    return { ok: false, kind: 'refusal', errors: [{ path: '', code: 'refusal', message: `the model refused: ${(answer.refusal ?? answer.finish).slice(0, 300)}` }] };
  }
  if (answer.finish === 'length') {
    return { ok: false, kind: 'truncated', errors: [{ path: '', code: 'truncated', message: 'the answer was cut off at the output token limit' }] };
  }
  if (answer.hasStructured) return checkWorkflow(answer.structured, request.availablePlugins);
  return checkModelText(answer.text, request.availablePlugins);
}

