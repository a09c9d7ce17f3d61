/**
 * Chat Completions adapter, for `openai` and `openai-compatible` models: the request is built
 * from the model's catalog row (structured output mode, temperature, token-limit parameter,
 * reasoning effort).
 */
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { ModelSpec } from '../../shared/models.ts';
import { strictWorkflowSchema, WORKFLOW_FORMAT_NAME, WORKFLOW_TOOL_NAME } from '../../shared/workflow-schema.ts';
import type { LlmCall, LlmClient, LlmResult } from './llm-client.ts';
import { withAttemptSignal } from './attempt-signal.ts';
import type { FetchFn } from './node-http-fetch.ts';

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

/**
 * What every request of one model shares, serialised once: the system prompt and the model's
 * parameters (with the 5 KB response format). Given the params, the SDK would stringify all of
 * it on every call (~25 µs, 2–3% of a worker's CPU). Keyed by the row object: a catalog change
 * brings a new object, so nothing stale is reused.
 */
const shared = new WeakMap<ModelSpec, { systemPrompt: string; maxOutputTokens: number; head: string; tail: string }>();

/** `chatCompletionParams(call)` as the JSON text sent, key for key. */
export function chatCompletionBody(call: LlmCall): string {
  let s = shared.get(call.model);
  if (!s || s.systemPrompt !== call.systemPrompt || s.maxOutputTokens !== call.maxOutputTokens) {
    const params = JSON.stringify(modelParams(call.model, call.maxOutputTokens));
    s = {
      systemPrompt: call.systemPrompt,
      maxOutputTokens: call.maxOutputTokens,
      head: `{"model":${JSON.stringify(call.model.apiModel)},"messages":[{"role":"system","content":${JSON.stringify(systemContent(call))}},{"role":"user","content":`,
      tail: params === '{}' ? '}' : `,${params.slice(1)}`,
    };
    shared.set(call.model, s);
  }
  return `${s.head}${JSON.stringify(call.userPrompt)}}]${s.tail}`;
}

/** A string body with a content type goes out as it is (the SDK's `buildBody`). */
const JSON_BODY_HEADERS = { 'content-type': 'application/json' };

export interface OpenAiClientOptions {
  readonly apiKey: string;
  readonly baseURL?: string | undefined;
  /** The HTTP client under the SDK (default: the built-in fetch). */
  readonly fetch?: FetchFn | undefined;
}

export class OpenAiLlmClient implements LlmClient {
  private readonly client: OpenAI;

  constructor(options: OpenAiClientOptions) {
    // The orchestrator decides what follows a failure: no retries inside the SDK.
    // redirect 'error': vendor APIs do not redirect (one would mean a wrong base URL), and fetch
    // then skips cloning every request body for a redirect that never comes.
    this.client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, fetchOptions: { redirect: 'error' }, ...(options.fetch ? { fetch: options.fetch } : {}) });
  }

  async call(call: LlmCall): Promise<LlmResult> {
    return withAttemptSignal(call, async (signal) => {
      // `post` is the SDK's own path under `chat.completions.create` (auth, timeout, errors,
      // request id), given the body already serialised.
      const completion = await this.client.post<ChatCompletion>('/chat/completions', {
        body: chatCompletionBody(call),
        headers: JSON_BODY_HEADERS,
        signal,
        timeout: call.timeoutMs,
        maxRetries: 0,
      });
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
