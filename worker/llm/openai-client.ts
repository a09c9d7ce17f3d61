/** OpenAI adapter: chat completions with a strict json_schema response format. */
import OpenAI from 'openai';
import { strictWorkflowSchema, WORKFLOW_FORMAT_NAME } from '../../shared/workflow-schema.js';
import type { LlmCall, LlmClient, LlmResult } from './llm-client.js';
import { withAttemptSignal } from './attempt-signal.js';
import type { FetchFn } from './node-http-fetch.js';

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
      const completion = await this.client.chat.completions.create(
        {
          model: call.model.apiModel,
          messages: [
            { role: 'system', content: call.systemPrompt },
            { role: 'user', content: call.userPrompt },
          ],
          response_format: { type: 'json_schema', json_schema: { name: WORKFLOW_FORMAT_NAME, strict: true, schema: strictWorkflowSchema } },
          max_completion_tokens: call.maxOutputTokens,
          temperature: 0.2,
        },
        { signal, timeout: call.timeoutMs, maxRetries: 0 },
      );
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
