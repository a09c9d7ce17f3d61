/** OpenAI Chat Completions, as far as the official SDK and the orchestrator need it. */
import { randomBytes } from 'node:crypto';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { answerText, type Answer } from './answers.ts';
import { estimateTokens, OPENAI_CACHE_BLOCK, CHARS_PER_TOKEN } from './tokens.ts';
import { contentText, isRecord, type ErrorKind, type ParsedCall, type Vendor, type VendorError } from './vendor.ts';

const ERRORS: Record<ErrorKind, { status: number; type: string; code: string | null }> = {
  rate_limit: { status: 429, type: 'requests', code: 'rate_limit_exceeded' },
  server_error: { status: 500, type: 'server_error', code: null },
  overloaded: { status: 503, type: 'server_error', code: 'service_unavailable' },
  auth: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  not_found: { status: 404, type: 'invalid_request_error', code: 'model_not_found' },
  invalid_request: { status: 400, type: 'invalid_request_error', code: null },
  quota: { status: 429, type: 'insufficient_quota', code: 'insufficient_quota' },
};

export const openAiVendor: Vendor = {
  provider: 'openai',
  path: '/v1/chat/completions',
  requestIdHeader: 'x-request-id',

  newRequestId: () => `req_${randomBytes(16).toString('hex')}`,

  hasApiKey: (headers) => /^Bearer\s+\S+/i.test(headers.authorization ?? ''),

  parse(body) {
    const { messages } = body;
    if (body.stream === true) return 'the simulator does not stream; send stream: false';
    if (!Array.isArray(messages) || messages.length === 0) return "'messages' must be a non-empty array";
    const byRole = (roles: readonly string[]): string =>
      messages
        .filter((m): m is Record<string, unknown> => isRecord(m) && roles.includes(String(m.role)))
        .map((m) => contentText(m.content))
        .join('\n\n');
    const system = byRole(['system', 'developer']);
    const limit = body.max_completion_tokens ?? body.max_tokens;
    if (limit !== undefined && limit !== null && !(Number.isInteger(limit) && (limit as number) > 0)) return "'max_completion_tokens' must be a positive integer";
    return {
      model: body.model,
      userText: byRole(['user']),
      cacheablePrefix: system === '' ? null : system,
      maxOutputTokens: typeof limit === 'number' ? limit : null,
      toolName: forcedFunction(body),
      hasTemperature: body.temperature !== undefined && body.temperature !== null,
    };
  },

  maxAnswerChars: (call) => (call.maxOutputTokens === null ? null : call.maxOutputTokens * CHARS_PER_TOKEN),

  render(answer, call, ctx) {
    const text = answerText(answer);
    const promptTokens = estimateTokens(ctx.requestChars);
    const systemTokens = estimateTokens(call.cacheablePrefix?.length ?? 0);
    const cachedTokens = ctx.cacheHit ? Math.min(promptTokens, Math.floor(systemTokens / OPENAI_CACHE_BLOCK) * OPENAI_CACHE_BLOCK) : 0;
    const completionTokens = Math.max(1, estimateTokens(text.length));
    const body: ChatCompletion = {
      id: `chatcmpl-${randomBytes(15).toString('base64url')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: ctx.model.apiModel,
      choices: [{ index: 0, message: message(answer, text, call.toolName), finish_reason: answer.kind === 'text' && answer.cut ? 'length' : call.toolName && answer.kind !== 'refusal' ? 'tool_calls' : 'stop', logprobs: null }],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: { cached_tokens: cachedTokens, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_sim00001',
    };
    return { body, usage: { inputTokens: promptTokens - cachedTokens, outputTokens: completionTokens, cacheReadTokens: cachedTokens, cacheWriteTokens: 0 } };
  },

  error(kind, message): VendorError {
    const { status, type, code } = ERRORS[kind];
    return { status, body: { error: { message, type, param: null, code } } };
  },
};

function message(answer: Answer, text: string, toolName: string | null): ChatCompletion.Choice['message'] {
  if (answer.kind === 'refusal') return { role: 'assistant', content: null, refusal: answer.text, annotations: [] };
  // Forced function calling: the answer is the call's arguments, as JSON text.
  if (toolName) return { role: 'assistant', content: null, refusal: null, annotations: [], tool_calls: [{ id: `call_${randomBytes(12).toString('hex')}`, type: 'function', function: { name: toolName, arguments: text } }] };
  return { role: 'assistant', content: text, refusal: null, annotations: [] };
}

/** The function a request forces with `tool_choice` (structured_output `tool`), or null. */
function forcedFunction(body: Record<string, unknown>): string | null {
  const choice = body.tool_choice;
  if (!isRecord(choice) || choice.type !== 'function' || !isRecord(choice.function)) return null;
  return typeof choice.function.name === 'string' ? choice.function.name : null;
}
