/**
 * Messages adapter, for `anthropic` models: forced tool use with the workflow schema as
 * input_schema (structured_output `tool`), or instructions only (`prompt`); temperature only
 * when the row sets one (Opus 4.7 and later refuse it).
 */
import Anthropic from '@anthropic-ai/sdk';
import { toolWorkflowSchema, WORKFLOW_TOOL_NAME } from '../../shared/workflow-schema.ts';
import type { LlmCall, LlmClient, LlmResult } from './llm-client.ts';
import { SCHEMA_INSTRUCTIONS } from './openai-client.ts';
import { withAttemptSignal } from './attempt-signal.ts';

export interface AnthropicClientOptions {
  readonly apiKey: string;
  readonly baseURL?: string | undefined;
}

const inputSchema = toolWorkflowSchema as unknown as Anthropic.Messages.Tool.InputSchema;

export class AnthropicLlmClient implements LlmClient {
  private readonly client: Anthropic;

  constructor(options: AnthropicClientOptions) {
    // No retries inside the SDK, redirect 'error': see the OpenAI adapter.
    this.client = new Anthropic({ apiKey: options.apiKey, baseURL: options.baseURL ?? null, maxRetries: 0, fetchOptions: { redirect: 'error' } });
  }

  async call(call: LlmCall): Promise<LlmResult> {
    return withAttemptSignal(call, async (signal) => {
      const tool = call.model.structuredOutput === 'tool';
      const message = await this.client.messages.create(
        {
          model: call.model.apiModel,
          max_tokens: call.maxOutputTokens,
          ...(call.model.temperature !== null ? { temperature: call.model.temperature } : {}),
          // The system prompt is the same for every request: cache it.
          system: [{ type: 'text', text: tool ? call.systemPrompt : call.systemPrompt + SCHEMA_INSTRUCTIONS, cache_control: { type: 'ephemeral' } }],
          messages: [{ role: 'user', content: call.userPrompt }],
          ...(tool
            ? {
                tools: [{ name: WORKFLOW_TOOL_NAME, description: 'Submit the generated workflow.', input_schema: inputSchema }],
                tool_choice: { type: 'tool' as const, name: WORKFLOW_TOOL_NAME },
              }
            : {}),
        },
        { signal, timeout: call.timeoutMs, maxRetries: 0 },
      );
      const used = message.content.find((b): b is Anthropic.Messages.ToolUseBlock => b.type === 'tool_use' && b.name === WORKFLOW_TOOL_NAME);
      const text = message.content
        .filter((b): b is Anthropic.Messages.TextBlock => b.type === 'text')
        .map((b) => b.text)
        .join('');
      const stop = message.stop_reason;
      return {
        kind: 'answer',
        text: used ? null : text,
        structured: used?.input,
        hasStructured: used !== undefined,
        finish: stop === 'max_tokens' || stop === 'model_context_window_exceeded' ? 'length' : stop === 'refusal' ? 'refusal' : stop === 'tool_use' || stop === 'end_turn' ? 'complete' : 'other',
        refusal: stop === 'refusal' ? text || 'refused' : null,
        usage: {
          inputTokens: message.usage.input_tokens,
          outputTokens: message.usage.output_tokens,
          cachedInputTokens: message.usage.cache_read_input_tokens ?? 0,
          cacheWriteTokens: message.usage.cache_creation_input_tokens ?? 0,
        },
        requestId: message._request_id ?? null,
      };
    });
  }
}
