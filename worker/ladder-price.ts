/**
 * The worst-case price of a step of the ladder, for the cost cap: the step is started only when
 * what the request spent so far plus this could not pass the cap. Worst case means: the prompt's
 * input tokens estimated high, every one charged at the dearer of the input and cache-write
 * prices, and the whole output limit used.
 */
import { costOf, type Picodollars } from '../shared/money.ts';
import type { ModelSpec } from '../shared/models.ts';
import { validationWorkflowSchema } from '../shared/workflow-schema.ts';
import type { PromptCall } from './repair-prompt.ts';

/**
 * Characters per token, estimated low (so tokens high): English prose runs about 4 characters a
 * token, JSON with its quotes, braces and \u escapes nearer 3.
 */
const CHARS_PER_TOKEN = 3;
/** Per message and per request framing the vendors add (roles, tool definitions' wrapping). */
const FRAMING_TOKENS = 64;
/** The workflow schema goes with every call (json_schema, a tool, or instructions). */
const SCHEMA_TOKENS = Math.ceil(JSON.stringify(validationWorkflowSchema).length / CHARS_PER_TOKEN);

/** An upper estimate of a call's input tokens. */
export function estimateInputTokens(call: Pick<PromptCall, 'systemPrompt' | 'userPrompt'>): number {
  return Math.ceil((call.systemPrompt.length + call.userPrompt.length) / CHARS_PER_TOKEN) + SCHEMA_TOKENS + FRAMING_TOKENS;
}

/** The most a call can cost: its estimated input at the dearer input price, and its whole output limit. */
export function worstCasePrice(model: ModelSpec, call: PromptCall): Picodollars {
  const input = estimateInputTokens(call);
  const asInput = costOf(model, { inputTokens: input, outputTokens: call.maxOutputTokens, cachedInputTokens: 0, cacheWriteTokens: 0 });
  const asCacheWrite = costOf(model, { inputTokens: 0, outputTokens: call.maxOutputTokens, cachedInputTokens: 0, cacheWriteTokens: input });
  return asInput > asCacheWrite ? asInput : asCacheWrite;
}
