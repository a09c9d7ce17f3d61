// Preloaded into a worker process (NODE_OPTIONS=--import) by bench/lib/unpatched-openai.ts:
// resolves `openai` and `openai/…` from the directory BENCH_OPENAI_ROOT (which holds a
// node_modules/openai) instead of the project's, and says so once on stderr so the benchmark
// can check the worker really ran that copy. Plain JS: it loads before the TypeScript modules.
import { registerHooks } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.env.BENCH_OPENAI_ROOT;
if (!root) throw new Error('BENCH_OPENAI_ROOT must name the directory that holds node_modules/openai');
const parentURL = pathToFileURL(path.join(root, 'index.js')).href;
let announced = false;

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier !== 'openai' && !specifier.startsWith('openai/')) return nextResolve(specifier, context);
    const resolved = nextResolve(specifier, { ...context, parentURL });
    if (!announced) {
      announced = true;
      process.stderr.write(`bench: openai resolved to ${resolved.url}\n`);
    }
    return resolved;
  },
});
