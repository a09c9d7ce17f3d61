/** OpenAI adapter: chat completions with a strict json_schema response format. */
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { strictWorkflowSchema, WORKFLOW_FORMAT_NAME } from '../../shared/workflow-schema.js';
import type { LlmCall, LlmClient, LlmResult } from './llm-client.js';
import { withAttemptSignal } from './attempt-signal.js';
import type { FetchFn } from './node-http-fetch.js';

const RESPONSE_FORMAT = { type: 'json_schema', json_schema: { name: WORKFLOW_FORMAT_NAME, strict: true, schema: strictWorkflowSchema } } as const;
const RESPONSE_FORMAT_JSON = JSON.stringify(RESPONSE_FORMAT);

/** What the adapter asks for: the request as the SDK types it. */
export function chatCompletionParams(call: LlmCall): ChatCompletionCreateParamsNonStreaming {
  return {
    model: call.model.apiModel,
    messages: [
      { role: 'system', content: call.systemPrompt },
      { role: 'user', content: call.userPrompt },
    ],
    response_format: RESPONSE_FORMAT,
    max_completion_tokens: call.maxOutputTokens,
    temperature: 0.2,
  };
}

let systemPromptSeen: string | undefined;
let systemPromptJson = '';

/**
 * `chatCompletionParams(call)` as the JSON text sent, key for key, with what every request shares
 * serialised once: the response format (5 KB of JSON Schema) and the system prompt. Given the
 * params, the SDK would stringify all of it on every call (~25 µs, 2–3% of a worker's CPU).
 */
export function chatCompletionBody(call: LlmCall): string {
  if (call.systemPrompt !== systemPromptSeen) {
    systemPromptSeen = call.systemPrompt;
    systemPromptJson = JSON.stringify(call.systemPrompt);
  }
  return `{"model":${JSON.stringify(call.model.apiModel)},"messages":[{"role":"system","content":${systemPromptJson}},{"role":"user","content":${JSON.stringify(call.userPrompt)}}],"response_format":${RESPONSE_FORMAT_JSON},"max_completion_tokens":${JSON.stringify(call.maxOutputTokens)},"temperature":0.2}`;
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
      return {
        kind: 'answer',
        text: choice?.message.content ?? null,
        structured: undefined,
        hasStructured: false,
        finish: finish === 'stop' ? 'complete' : finish === 'length' ? 'length' : finish === 'content_filter' ? 'content_filter' : 'other',
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
