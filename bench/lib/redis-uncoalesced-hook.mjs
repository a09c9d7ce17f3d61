// Preloaded into a worker process (NODE_OPTIONS=--import) by the http-ab scenario: loads
// shared/redis.ts without its write coalescing (the connect handler that patches socket.write to
// cork a round's commands into one writev), so ioredis writes every command on its own, as it
// does by itself. Says so once on stderr so the benchmark can check it. Plain JS: it loads
// before the TypeScript modules.
import { registerHooks } from 'node:module';

const CALL = /coalesceWrites\(redis\.stream\)/g;

registerHooks({
  load(url, context, nextLoad) {
    const result = nextLoad(url, context);
    if (!url.endsWith('/shared/redis.ts') && !url.endsWith('/shared/redis.js')) return result;
    const text = typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8');
    const found = text.match(CALL)?.length ?? 0;
    if (found !== 1) throw new Error(`shared/redis.ts calls coalesceWrites(redis.stream) ${found} times, not once: review bench/lib/redis-uncoalesced-hook.mjs`);
    process.stderr.write('bench: Redis writes not coalesced\n');
    return { ...result, source: text.replace(CALL, 'void 0') };
  },
});
