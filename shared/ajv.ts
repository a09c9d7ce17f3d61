/** One Ajv instance for the process; every schema is compiled once, at module load. */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FieldError } from './errors.ts';

// ajv-formats ships CommonJS with a default export that NodeNext sees as the module namespace.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);

/** Messages for patterns whose regex says little to a caller, keyed by the pattern source. */
const patternMessages = new Map<string, string>();

export function describePattern(pattern: string, message: string): string {
  patternMessages.set(pattern, message);
  return pattern;
}

export function toFieldErrors(errors: readonly ErrorObject[] | null | undefined): FieldError[] {
  // An `if` error only says its `then` failed; the errors of the `then` itself are listed too.
  return (errors ?? []).filter((e) => e.keyword !== 'if').map((e) => {
    if (e.keyword === 'pattern') {
      const known = patternMessages.get(String((e.params as { pattern: string }).pattern));
      if (known) return { path: e.instancePath, code: 'pattern', message: known };
    }
    let path = e.instancePath;
    if (e.keyword === 'required') path += `/${escapePointer(String((e.params as { missingProperty: string }).missingProperty))}`;
    if (e.keyword === 'additionalProperties') path += `/${escapePointer(String((e.params as { additionalProperty: string }).additionalProperty))}`;
    const message = e.keyword === 'additionalProperties' ? 'is not an allowed property' : e.keyword === 'required' ? 'is required' : (e.message ?? e.keyword);
    return { path, code: e.keyword, message };
  });
}

export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
