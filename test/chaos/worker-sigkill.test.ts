/** A worker process SIGKILLed while hundreds of jobs are in flight: the others finish them all. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, goal, type Harness, PLUGINS, startHarness } from '../helpers/harness.ts';
import { expectCleanLedger } from '../helpers/ledger.ts';
import { startTsProcess, waitForOutput } from '../helpers/processes.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('sigkill', {
    env: { JOB_LOCK_MS: '3000', STALLED_INTERVAL_MS: '1000', WORKER_CONCURRENCY: '150', LOG_LEVEL: 'info', MODEL_TIMEOUTS_MS: 'gpt-4o-mini=30000,claude-sonnet-4-6=30000' },
    faults: { 'gpt-4o-mini': { schema: 0.05, server_error: 0.02 } },
  });
  h.sim.setLatency({ 'gpt-4o-mini': 400, 'claude-sonnet-4-6': 600 });
});
afterAll(async () => {
  await h?.close();
});

it('300 jobs, one of two workers killed mid-run: every request ends once', async () => {
  const workers = [startTsProcess('worker/main.ts', h.env), startTsProcess('worker/main.ts', h.env)];
  try {
    await Promise.all(workers.map((w) => waitForOutput(w, /worker started/)));
    const ids = await Promise.all(Array.from({ length: 300 }, (_, i) => h.client.enqueue({ userId: `u${i % 7}`, agentId: `a${i}`, userGoal: goal(`Chaos workflow ${i}: file receipts from mail into a sheet`), availablePlugins: PLUGINS })));
    // Kill one worker while both hold jobs.
    await eventually(async () => (await h.rawQueue.getJobCounts('completed')).completed! >= 30, { timeoutMs: 60_000, what: 'some progress' });
    expect((await h.rawQueue.getJobCounts('active')).active).toBeGreaterThan(0);
    expect((await workers[0]!.kill('SIGKILL')).signal).toBe('SIGKILL');

    const results = await Promise.allSettled(ids.map((id) => h.client.waitForResult(id, { timeoutMs: 120_000 })));
    const unexpected = results.filter((r) => r.status === 'rejected' && !/GENERATION_(INVALID|FAILED)/.test(String((r as PromiseRejectedResult).reason)));
    expect(unexpected).toEqual([]);
    const byStatus = await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
    expect(byStatus.succeeded).toBeGreaterThan(280);
    expect(workers[1]!.child.exitCode).toBeNull();
  } finally {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  }
});
