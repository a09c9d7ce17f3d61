/**
 * Text Postgres can store. JavaScript strings may hold NUL and lone UTF-16 surrogates; Postgres
 * refuses NUL in `text` and `jsonb`, and refuses a `\uD83D` escape without its pair in `jsonb`
 * (postgres.js turns a lone surrogate in a `text` parameter into U+FFFD on the way, silently).
 * U+FFFF and the other noncharacters are valid Unicode scalar values: `jsonb` stores them, so
 * they pass.
 *
 * A model's answer with such text is a validation failure of its own kind (`unstorable`), found
 * by `findUnstorable`; text we write about an attempt (error messages, validation errors, audit
 * details) is made storable with `storableText`/`storableJson`, since a write the database
 * refuses must never cost a model call again.
 */
import type { FieldError } from './errors.ts';

/** NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** The text with each NUL and lone surrogate replaced by U+FFFD. */
export function storableText(text: string): string {
  return UNSTORABLE.test(text) ? text.replace(UNSTORABLE_ALL, '\uFFFD') : text;
}

/** Keys and strings made storable throughout a JSON value; the value is copied only where needed. */
export function storableJson<T>(value: T): T {
  return sanitize(value, 0) as T;
}

function sanitize(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return storableText(value);
  // Our own records (errors, details) are shallow; deeper data is not ours to rewrite.
  if (value === null || typeof value !== 'object' || depth > 32) return value;
  if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[storableText(k)] = sanitize(v, depth + 1);
  return out;
}

/** JSON pointer escaping (RFC 6901) of one reference token, itself made storable. */
function pointerToken(key: string): string {
  return storableText(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The first string or key in a JSON value that Postgres cannot store, as a field error with a
 * JSON pointer to it; null when every one is storable. Iterative: the value may be deeply nested.
 */
export function findUnstorable(value: unknown): FieldError | null {
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length > 0) {
    const [node, pointer] = stack.pop()!;
    if (typeof node === 'string') {
      if (!isStorableText(node)) return unstorableAt(pointer, 'a string');
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    const entries = Array.isArray(node) ? node.map((v, i) => [String(i), v] as const) : Object.entries(node);
    // Pushed in reverse, so the first offending value in document order is found first.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      const at = `${pointer}/${pointerToken(key)}`;
      if (!Array.isArray(node) && !isStorableText(key)) return unstorableAt(at, 'a key');
      stack.push([child, at]);
    }
  }
  return null;
}

function unstorableAt(path: string, what: string): FieldError {
  return { path, code: 'unstorable_text', message: `${what} holds a NUL character or a lone UTF-16 surrogate, which the database cannot store` };
}
