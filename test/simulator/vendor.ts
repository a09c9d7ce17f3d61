/** The part of a vendor's wire protocol the server needs; openai.ts and anthropic.ts implement it. */
import type { IncomingHttpHeaders } from 'node:http';
import type { ModelSpec, ProviderName } from '../../shared/models.ts';
import type { Answer } from './answers.ts';

export type ErrorKind = 'rate_limit' | 'server_error' | 'overloaded' | 'auth' | 'not_found' | 'invalid_request' | 'quota';

export interface ParsedCall {
  readonly model: unknown;
  readonly userText: string;
  /** The prompt prefix the vendor would serve from its cache (the system prompt), or null. */
  readonly cacheablePrefix: string | null;
  readonly maxOutputTokens: number | null;
  /** Anthropic: the tool the answer must go to; null for a plain text answer. */
  readonly toolName: string | null;
  /** Whether the request sets `temperature` (reasoning models refuse it). */
  readonly hasTemperature: boolean;
}

export interface CallContext {
  readonly model: ModelSpec;
  /** Characters of the whole request body. */
  readonly requestChars: number;
  /** Whether `cacheablePrefix` was already cached for this model. */
  readonly cacheHit: boolean;
}

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
}

export interface VendorError {
  readonly status: number;
  readonly body: unknown;
}

export interface Vendor {
  readonly provider: ProviderName;
  readonly path: string;
  readonly requestIdHeader: string;
  newRequestId(): string;
  hasApiKey(headers: IncomingHttpHeaders): boolean;
  /** The call, or a message for a 400. */
  parse(body: Record<string, unknown>): ParsedCall | string;
  /** Longest answer text that fits the request's output limit. */
  maxAnswerChars(call: ParsedCall): number | null;
  render(answer: Answer, call: ParsedCall, ctx: CallContext): { body: unknown; usage: Usage };
  error(kind: ErrorKind, message: string): VendorError;
}

/** Text of a message content: a string, or the text parts of a block list. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((b): b is { type: 'text'; text: string } => typeof b === 'object' && b !== null && b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text)
    .join('\n');
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
