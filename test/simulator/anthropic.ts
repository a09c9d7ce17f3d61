/** Anthropic Messages, as far as the official SDK and the orchestrator need it. */
import { randomBytes } from 'node:crypto';
import { answerText, type Answer } from './answers.ts';
import { ANTHROPIC_VERBOSITY, CHARS_PER_TOKEN, estimateTokens } from './tokens.ts';
import { contentText, isRecord, type ErrorKind, type ParsedCall, type Vendor, type VendorError } from './vendor.ts';

type ContentBlock = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };
type StopReason = 'end_turn' | 'max_tokens' | 'tool_use' | 'refusal';

const ERRORS: Record<ErrorKind, { status: number; type: string }> = {
  rate_limit: { status: 429, type: 'rate_limit_error' },
  server_error: { status: 500, type: 'api_error' },
  overloaded: { status: 529, type: 'overloaded_error' },
  auth: { status: 401, type: 'authentication_error' },
  not_found: { status: 404, type: 'not_found_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  // Anthropic refuses a request when the credit balance is too low with a 400 of this type.
  quota: { status: 400, type: 'invalid_request_error' },
};

export const anthropicVendor: Vendor = {
  provider: 'anthropic',
  path: '/v1/messages',
  requestIdHeader: 'request-id',

  newRequestId: () => `req_011${randomBytes(16).toString('base64url').replace(/[-_]/g, 'x')}`,

  hasApiKey: (headers) => typeof headers['x-api-key'] === 'string' && headers['x-api-key'].trim() !== '',

  parse(body) {
    const { messages, max_tokens: maxTokens, system } = body;
    if (body.stream === true) return 'stream: the simulator does not stream; send stream: false';
    if (!Number.isInteger(maxTokens) || (maxTokens as number) < 1) return 'max_tokens: Field required (a positive integer)';
    if (!Array.isArray(messages) || messages.length === 0) return 'messages: at least one message is required';
    const userText = messages
      .filter((m): m is Record<string, unknown> => isRecord(m) && m.role === 'user')
      .map((m) => contentText(m.content))
      .join('\n\n');
    return { model: body.model, userText, cacheablePrefix: cachedSystem(system), maxOutputTokens: maxTokens as number, toolName: toolName(body), hasTemperature: body.temperature !== undefined && body.temperature !== null };
  },

  maxAnswerChars: (call) => (call.maxOutputTokens === null ? null : Math.floor(call.maxOutputTokens / ANTHROPIC_VERBOSITY) * CHARS_PER_TOKEN),

  render(answer, call, ctx) {
    const { content, stop } = blocks(answer, call.toolName);
    const prefixTokens = call.cacheablePrefix === null ? 0 : estimateTokens(call.cacheablePrefix.length);
    const cacheRead = ctx.cacheHit ? prefixTokens : 0;
    const cacheWrite = ctx.cacheHit ? 0 : prefixTokens;
    // As with the real API, input_tokens excludes the tokens written to or read from the cache.
    const inputTokens = Math.max(1, estimateTokens(ctx.requestChars) - cacheRead - cacheWrite);
    const outputTokens = Math.max(1, Math.ceil(estimateTokens(answerText(answer).length) * ANTHROPIC_VERBOSITY));
    const body = {
      id: `msg_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`,
      type: 'message',
      role: 'assistant',
      model: ctx.model.apiModel,
      content,
      stop_reason: stop,
      stop_sequence: null,
      usage: {
        input_tokens: inputTokens,
        cache_creation_input_tokens: cacheWrite,
        cache_read_input_tokens: cacheRead,
        cache_creation: { ephemeral_5m_input_tokens: cacheWrite, ephemeral_1h_input_tokens: 0 },
        output_tokens: outputTokens,
        service_tier: 'standard',
      },
    };
    return { body, usage: { inputTokens, outputTokens, cacheReadTokens: cacheRead, cacheWriteTokens: cacheWrite } };
  },

  error(kind, message): VendorError {
    const { status, type } = ERRORS[kind];
    return { status, body: { type: 'error', error: { type, message } } };
  },
};

function blocks(answer: Answer, tool: string | null): { content: ContentBlock[]; stop: StopReason } {
  switch (answer.kind) {
    case 'json':
      return tool === null
        ? { content: [{ type: 'text', text: JSON.stringify(answer.value) }], stop: 'end_turn' }
        : { content: [{ type: 'tool_use', id: `toolu_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`, name: tool, input: answer.value }], stop: 'tool_use' };
    case 'text':
      return { content: [{ type: 'text', text: answer.text }], stop: answer.cut ? 'max_tokens' : 'end_turn' };
    case 'refusal':
      return { content: [{ type: 'text', text: answer.text }], stop: 'refusal' };
    case 'empty':
      return { content: [], stop: 'end_turn' };
  }
}

/** The system blocks up to the last one marked for caching: the prefix Anthropic caches. */
function cachedSystem(system: unknown): string | null {
  if (!Array.isArray(system)) return null;
  let last = -1;
  system.forEach((b: unknown, i) => {
    if (isRecord(b) && isRecord(b.cache_control)) last = i;
  });
  return last < 0 ? null : contentText(system.slice(0, last + 1));
}

/** The tool a forced (or the only offered) tool choice sends the answer to. */
function toolName(body: Record<string, unknown>): string | null {
  const choice = body.tool_choice;
  if (isRecord(choice) && choice.type === 'tool' && typeof choice.name === 'string') return choice.name;
  if (isRecord(choice) && choice.type === 'none') return null;
  const first: unknown = Array.isArray(body.tools) ? body.tools[0] : undefined;
  return isRecord(first) && typeof first.name === 'string' ? first.name : null;
}
