/**
 * A copy of the installed openai package without the postinstall patch of
 * scripts/patch-dependencies.mjs (the guard that skips formatting debug-log details below debug
 * level), and the worker environment that makes a worker process load it instead of the
 * project's copy (bench/lib/openai-root-hook.mjs). The project's node_modules stay untouched.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT } from '../../test/helpers/processes.ts';

const HOOK = fileURLToPath(new URL('./openai-root-hook.mjs', import.meta.url));

/** The files the patch rewrites, and how many guards each must hold (as the patch script checks). */
const PATCHED_FILES: Readonly<Record<string, number>> = { 'client.mjs': 6, 'client.js': 6, 'internal/parse.mjs': 2, 'internal/parse.js': 2 };
const GUARD = /\b(this|client)\.logLevel === 'debug' && /g;

export interface UnpatchedOpenAi {
  /** What a worker process needs in its environment to load the copy. */
  readonly env: Readonly<Record<string, string>>;
  /** The NODE_OPTIONS flag that preloads the hook. */
  readonly nodeOption: string;
  /** True when a worker's output shows it loaded the copy. */
  loadedBy(output: string): boolean;
  remove(): void;
}

export function prepareUnpatchedOpenAi(): UnpatchedOpenAi {
  const root = mkdtempSync(path.join(os.tmpdir(), 'bench-openai-unpatched-'));
  const target = path.join(root, 'node_modules', 'openai');
  cpSync(path.join(PROJECT_ROOT, 'node_modules', 'openai'), target, { recursive: true });
  for (const [file, guards] of Object.entries(PATCHED_FILES)) {
    const full = path.join(target, file);
    const text = readFileSync(full, 'utf8');
    const found = text.match(GUARD)?.length ?? 0;
    if (found !== guards) throw new Error(`openai/${file} holds ${found} debug-log guards, not ${guards}: review bench/lib/unpatched-openai.ts against scripts/patch-dependencies.mjs`);
    writeFileSync(full, text.replace(GUARD, ''));
  }
  return {
    env: { BENCH_OPENAI_ROOT: root },
    nodeOption: `--import=${HOOK}`,
    loadedBy: (output) => output.includes(`bench: openai resolved to file://${target}/`),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
