/**
 * The model provider port: one call, one classified result with the usage the vendor reported.
 * Adapters exist for OpenAI and Anthropic; primary and fallback are a policy over two of these.
 */
import type { TokenUsage } from '../../shared/money.ts';
import type { ModelSpec } from '../../shared/models.ts';
import type { CallFailureKind } from '../../shared/outcomes.ts';

export interface LlmCall {
  readonly model: ModelSpec;
  readonly systemPrompt: string;
  readonly userPrompt: string;
  readonly maxOutputTokens: number;
  /** Aborts the call: the attempt timeout or shutdown. */
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

/** The vendor answered; whether the answer is a workflow is decided later. */
export interface LlmAnswer {
  readonly kind: 'answer';
  /** Text content (OpenAI content, or Anthropic text blocks when no tool was used). */
  readonly text: string | null;
  /** Anthropic's forced tool input: already a JSON value. */
  readonly structured: unknown;
  readonly hasStructured: boolean;
  readonly finish: 'complete' | 'length' | 'refusal' | 'content_filter' | 'other';
  readonly refusal: string | null;
  readonly usage: TokenUsage;
  readonly requestId: string | null;
}

export interface LlmFailure {
  readonly kind: 'failure';
  readonly outcome: CallFailureKind;
  readonly message: string;
  readonly httpStatus: number | null;
  /** What the vendor asked us to wait, for rate limits (and overload, when sent). */
  readonly retryAfterMs: number | null;
  readonly usage: TokenUsage;
  /** True when the call was aborted by shutdown rather than failing. */
  readonly aborted: boolean;
}

export type LlmResult = LlmAnswer | LlmFailure;

export interface LlmClient {
  call(call: LlmCall): Promise<LlmResult>;
}
