/**
 * Provider storms from the simulator: every call 429 for 30 seconds; every call 500/529; every
 * call hanging past its timeout; a 10 MB answer; an answer that never ends. The worker stays up
 * with bounded memory, waits as the vendors ask, and records true outcomes and costs.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goal, type Harness, PLUGINS, startHarness } from '../helpers/harness.ts';
import { expectCleanLedger } from '../helpers/ledger.ts';
import { type RunningProcess, startTsProcess, waitForOutput } from '../helpers/processes.ts';

let h: Harness;
let worker: RunningProcess;

beforeAll(async () => {
  h = await startHarness('storms', { env: { LOG_LEVEL: 'info', WORKER_CONCURRENCY: '50', MODEL_TIMEOUTS_MS: 'gpt-4o-mini=1500,claude-sonnet-4-6=1500', RETRY_BASE_DELAY_MS: '200' } });
  worker = startTsProcess('worker/main.ts', h.env);
  await waitForOutput(worker, /worker started/);
});
afterAll(async () => {
  await worker?.kill('SIGTERM');
  await h?.close();
});

const requests = (n: number, label: string, ...directives: string[]) =>
  Promise.all(Array.from({ length: n }, (_, i) => h.client.enqueue({ userId: 'u', agentId: `a${i}`, userGoal: goal(`${label} ${i}`, ...directives), availablePlugins: PLUGINS })));

const settle = (ids: string[]) => Promise.allSettled(ids.map((id) => h.client.waitForResult(id, { timeoutMs: 120_000 })));

/** Timestamps come back as text through the Drizzle-configured client. */
const ms = (t: unknown) => new Date(t as string).getTime();

function peakRssMb(): number {
  const status = readFileSync(`/proc/${worker.child.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

describe('storms', () => {
  it('every call 429 for 30 s: no model is called again before its retry-after, then work resumes', async () => {
    h.sim.setFaults({ '*': { rate_limit: 1, retryAfterSeconds: 1 } });
    const stormEnds = Date.now() + 30_000;
    const ids = await requests(40, 'Storm 429');
    const stop = setTimeout(() => h.sim.setFaults({}), stormEnds - Date.now());
    try {
      const results = await settle(ids);
      // Results that came after the storm are workflows; the rest failed with rate_limit, recorded.
      expect(results.every((r) => r.status === 'fulfilled' || /GENERATION_FAILED/.test(String(r.reason)))).toBe(true);
    } finally {
      clearTimeout(stop);
      h.sim.setFaults({});
    }
    // Later tests start from a clean slate: no pause or pacing left over from the storm.
    const leftovers = await h.redis.keys(`${h.prefix}:orchestrator:model-*`);
    if (leftovers.length > 0) await h.redis.del(...leftovers);
    const byStatus = await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
    expect((byStatus.succeeded ?? 0) + (byStatus.failed ?? 0)).toBe(40);

    // Pauses hold: after a 429 answered at t with retry-after r, no call to that model starts in (t, t + r).
    const attempts = await h.db.sql`select model, outcome, started_at, finished_at, retry_after_ms, cost_usd::float8 as cost from generation_attempts where job_id in ${h.db.sql(ids)} order by started_at`;
    const limited = attempts.filter((a) => a.outcome === 'rate_limit');
    expect(limited.length).toBeGreaterThan(0);
    for (const a of limited) {
      expect(a.retry_after_ms).toBe(1000);
      expect(a.cost).toBe(0);
      const from = ms(a.finished_at) + 50;
      const to = ms(a.finished_at) + (a.retry_after_ms as number) - 50;
      const early = attempts.filter((b) => b.model === a.model && ms(b.started_at) > from && ms(b.started_at) < to);
      expect(early, `calls to ${a.model} during its pause`).toEqual([]);
    }
    // Thirty seconds of 429s cost a bounded number of calls, not a hammering.
    expect(limited.length).toBeLessThan(40 * 4);
    expect(worker.child.exitCode).toBeNull();
    // The storm is over: the next request goes through on the primary.
    const after = await h.client.generateWorkflow({ userId: 'u', agentId: 'after', userGoal: 'After the storm', availablePlugins: PLUGINS }, { timeoutMs: 30_000 });
    expect(after).toMatchObject({ status: 'succeeded', generator_used: 'gpt-4o-mini' });
  });

  it('every call 500 (OpenAI) and 529 (Anthropic): recorded as api_error with the status, no money, bounded retries', async () => {
    h.sim.setFaults({ 'gpt-4o-mini': { server_error: 1 }, 'claude-sonnet-4-6': { overloaded: 1 } });
    try {
      const ids = await requests(10, 'Storm 5xx');
      const results = await settle(ids);
      expect(results.every((r) => r.status === 'rejected' && /GENERATION_FAILED/.test(String(r.reason)))).toBe(true);
      await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
      const rows = await h.db.sql`select model, outcome, http_status, count(*)::int as n, sum(cost_usd)::float8 as cost from generation_attempts where job_id in ${h.db.sql(ids)} group by 1, 2, 3 order by 1`;
      expect(rows).toEqual([
        { model: 'claude-sonnet-4-6', outcome: 'api_error', http_status: 529, n: 30, cost: 0 },
        { model: 'gpt-4o-mini', outcome: 'api_error', http_status: 500, n: 10, cost: 0 },
      ]);
    } finally {
      h.sim.setFaults({});
    }
  });

  it('every call hanging past its timeout: recorded as timeout after the timeout, nothing left open', async () => {
    h.sim.setFaults({ '*': { hang: 1 } });
    try {
      const ids = await requests(6, 'Storm hang');
      const results = await settle(ids);
      expect(results.every((r) => r.status === 'rejected' && /GENERATION_FAILED/.test(String(r.reason)))).toBe(true);
      await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
      const rows = await h.db.sql`select outcome, min(latency_ms)::int as min, max(latency_ms)::int as max, count(*)::int as n from generation_attempts where job_id in ${h.db.sql(ids)} group by 1`;
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ outcome: 'timeout', n: 6 * 4 });
      expect(rows[0]!.min).toBeGreaterThanOrEqual(1_400);
      expect(rows[0]!.max).toBeLessThan(5_000);
    } finally {
      h.sim.setFaults({});
    }
  });

  it('a 10 MB answer and an answer that never ends: classified, priced as reported, memory bounded', async () => {
    const [huge] = await requests(1, 'Huge answer', 'gpt-4o-mini=huge');
    const [endless] = await requests(1, 'Endless answer', 'gpt-4o-mini=endless');
    const results = await Promise.all([h.client.waitForResult(huge!, { timeoutMs: 60_000 }), h.client.waitForResult(endless!, { timeoutMs: 60_000 })]);
    expect(results.map((r) => [r.generator_used, r.fallback_reason])).toEqual([
      ['claude-sonnet-4-6', 'schema'],
      ['claude-sonnet-4-6', 'timeout'],
    ]);
    const [hugeAttempt] = await h.db.sql`select output_tokens, cost_usd::text as cost from generation_attempts where job_id = ${huge!} and role = 'primary'`;
    // The vendor billed for every token of the 10 MB answer: so do we.
    expect(hugeAttempt!.output_tokens).toBeGreaterThan(2_000_000);
    expect(Number(hugeAttempt!.cost)).toBeGreaterThan(1);
    expect(peakRssMb()).toBeLessThan(400);
    expect(worker.child.exitCode).toBeNull();
  });
});
