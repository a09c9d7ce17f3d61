/**
 * The Dockerfile as data: its stages and the environment its `ENV` instructions give a stage.
 * The image's `NODE_OPTIONS` (and in it the worker's V8 heap cap) is written once, in the
 * Dockerfile; the deployment tests and the benchmark read it from there instead of repeating it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './processes.ts';

export const DOCKERFILE = join(PROJECT_ROOT, 'Dockerfile');

/** Each stage's instructions (`FROM … AS name` first), comments dropped, continuation lines joined. */
export function dockerfileStages(text = readFileSync(DOCKERFILE, 'utf8')): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] = [];
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const from = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (from) out.set(from[1]!, (current = []));
    current.push(line);
  }
  return out;
}

/** Splits `ENV` arguments into words the way Docker does: quotes group, a backslash escapes. */
function words(args: string): string[] {
  const out: string[] = [];
  let word = '';
  let quote: '"' | "'" | null = null;
  let inWord = false;
  for (let i = 0; i < args.length; i++) {
    const ch = args[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < args.length) word += args[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < args.length) {
      word += args[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`Dockerfile: unterminated quote in ENV ${args}`);
  if (inWord) out.push(word);
  return out;
}

/**
 * The environment the `ENV` instructions of `stage` set (`ENV A=1 B="x y"`, or the old
 * `ENV A value`), including those of a stage it is built `FROM`. The base image's own variables
 * (PATH, NODE_VERSION, …) are not included.
 */
export function imageEnvironment(stage = 'app', text = readFileSync(DOCKERFILE, 'utf8')): Record<string, string> {
  const stages = dockerfileStages(text);
  const instructions = stages.get(stage);
  if (!instructions) throw new Error(`Dockerfile has no stage ${stage}`);
  const parent = /^FROM\s+(\S+)/i.exec(instructions[0]!)?.[1];
  const env: Record<string, string> = parent && stages.has(parent) && parent !== stage ? imageEnvironment(parent, text) : {};
  for (const line of instructions.filter((l) => /^ENV\s/i.test(l))) {
    const args = line.slice(4).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
      // Legacy form: `ENV NAME the rest of the line`.
      const [name, ...rest] = args.split(/\s+/);
      env[name!] = rest.join(' ');
      continue;
    }
    for (const word of words(args)) {
      const eq = word.indexOf('=');
      if (eq <= 0) throw new Error(`Dockerfile: cannot read ENV ${args}`);
      env[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  return env;
}

/**
 * V8's old-generation cap in MB that `NODE_OPTIONS` sets (`--max-old-space-size=N`; the last one
 * wins, as in node), or undefined when it sets none.
 */
export function heapCapMb(nodeOptions: string | undefined): number | undefined {
  const caps = [...(nodeOptions ?? '').matchAll(/--max[-_]old[-_]space[-_]size[= ](\d+)\b/g)];
  const last = caps.at(-1)?.[1];
  return last === undefined ? undefined : Number(last);
}
