/**
 * Token accounting that looks like the vendors': about four characters per token, and a
 * prompt cache that remembers a system prompt per model for a few minutes.
 */
import { createHash } from 'node:crypto';

export const CHARS_PER_TOKEN = 4;
/**
 * Claude writes longer answers than GPT for the same workflow and its tokenizer splits JSON
 * finer; this brings a typical Sonnet answer near the $0.03 seen in production.
 */
export const ANTHROPIC_VERBOSITY = 1.8;
/** OpenAI reports cached prompt tokens in blocks of 128. */
export const OPENAI_CACHE_BLOCK = 128;
const CACHE_TTL_MS = 5 * 60_000;

export function estimateTokens(chars: number): number {
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

export class PromptCache {
  private readonly lastSeen = new Map<string, number>();

  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Whether this prefix was cached for this model; either way it is (re)cached now. */
  hit(model: string, prefix: string): boolean {
    const key = createHash('sha256').update(model).update('\u0000').update(prefix).digest('hex');
    const now = this.now();
    const seen = this.lastSeen.get(key);
    this.lastSeen.set(key, now);
    return seen !== undefined && now - seen <= CACHE_TTL_MS;
  }
}
