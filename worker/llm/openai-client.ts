/**
 * Chat Completions adapter, for `openai` and `openai-compatible` models: the request is built
 * from the model's catalog row (structured output mode, temperature, token-limit parameter,
 * reasoning effort).
 */
import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { ModelSpec } from '../../shared/models.ts';
import { strictWorkflowSchema, WORKFLOW_FORMAT_NAME, WORKFLOW_TOOL_NAME } from '../../shared/workflow-schema.ts';
import type { LlmCall, LlmClient, LlmResult } from './llm-client.ts';
import { withAttemptSignal } from './attempt-signal.ts';

const RESPONSE_FORMAT = { type: 'json_schema', json_schema: { name: WORKFLOW_FORMAT_NAME, strict: true, schema: strictWorkflowSchema } } as const;
const TOOLS = [{ type: 'function', function: { name: WORKFLOW_TOOL_NAME, description: 'Submit the generated workflow.', strict: true, parameters: strictWorkflowSchema } }] as const;
const TOOL_CHOICE = { type: 'function', function: { name: WORKFLOW_TOOL_NAME } } as const;

/** For the modes where the vendor is not given the schema: the model reads it instead. */
export const SCHEMA_INSTRUCTIONS = `\n\nAnswer with one JSON object only, no prose, matching this JSON Schema:\n${JSON.stringify(strictWorkflowSchema)}`;

/** The parts of a request that depend on the model's row only, in the order they are sent. */
function modelParams(model: ModelSpec, maxOutputTokens: number): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  if (model.structuredOutput === 'json_schema') p.response_format = RESPONSE_FORMAT;
  else if (model.structuredOutput === 'json_object') p.response_format = { type: 'json_object' };
  else if (model.structuredOutput === 'tool') {
    p.tools = TOOLS;
    p.tool_choice = TOOL_CHOICE;
  }
  p[model.tokenLimitParam] = maxOutputTokens;
  if (model.temperature !== null) p.temperature = model.temperature;
  if (model.reasoningEffort !== null) p.reasoning_effort = model.reasoningEffort;
  return p;
}

function systemContent(call: LlmCall): string {
  const mode = call.model.structuredOutput;
  return mode === 'prompt' || mode === 'json_object' ? call.systemPrompt + SCHEMA_INSTRUCTIONS : call.systemPrompt;
}

/** What the adapter asks for: the request as the SDK types it. */
export function chatCompletionParams(call: LlmCall): ChatCompletionCreateParamsNonStreaming {
  return {
    model: call.model.apiModel,
    messages: [
      { role: 'system', content: systemContent(call) },
      { role: 'user', content: call.userPrompt },
    ],
    ...modelParams(call.model, call.maxOutputTokens),
  } as ChatCompletionCreateParamsNonStreaming;
}

export interface OpenAiClientOptions {
  readonly apiKey: string;
  readonly baseURL?: string | undefined;
}

export class OpenAiLlmClient implements LlmClient {
  private readonly client: OpenAI;

  constructor(options: OpenAiClientOptions) {
    // The orchestrator decides what follows a failure: no retries inside the SDK. The SDK's own
    // HTTP path (Node's fetch) carries the call; redirect 'error': vendor APIs do not redirect,
    // so one would mean a wrong base URL.
    this.client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, fetchOptions: { redirect: 'error' } });
  }

  async call(call: LlmCall): Promise<LlmResult> {
    return withAttemptSignal(call, async (signal) => {
      const completion = await this.client.chat.completions.create(chatCompletionParams(call), { signal, timeout: call.timeoutMs, maxRetries: 0 });
      const choice = completion.choices[0];
      const usage = completion.usage;
      const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
      const finish = choice?.finish_reason;
      const toolCall = choice?.message.tool_calls?.find((t) => t.type === 'function' && t.function.name === WORKFLOW_TOOL_NAME);
      const toolArguments = toolCall && toolCall.type === 'function' ? toolCall.function.arguments : null;
      return {
        kind: 'answer',
        // Forced tool use: the arguments are the workflow's JSON text, checked like content.
        text: toolArguments ?? choice?.message.content ?? null,
        structured: undefined,
        hasStructured: false,
        finish: finish === 'stop' || (finish === 'tool_calls' && toolArguments !== null) ? 'complete' : finish === 'length' ? 'length' : finish === 'content_filter' ? 'content_filter' : 'other',
        refusal: choice?.message.refusal ?? null,
        usage: {
          // OpenAI counts cached tokens inside prompt_tokens; they are billed at the cached price.
          inputTokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cached),
          cachedInputTokens: cached,
          cacheWriteTokens: 0,
          outputTokens: usage?.completion_tokens ?? 0,
        },
        requestId: completion._request_id ?? null,
      };
    });
  }
}
