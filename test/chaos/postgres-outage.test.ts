/**
 * Postgres unreachable for 10 seconds mid-run: results that could not be written are written
 * later, none lost, none counted twice, and no worker process dies.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/database.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from '../helpers/harness.ts';
import { expectCleanLedger } from '../helpers/ledger.ts';
import { startTsProcess, waitForOutput } from '../helpers/processes.ts';
import { startPostgresProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

let h: Harness;
let proxy: TcpProxy;

beforeAll(async () => {
  const viaProxy = await startPostgresProxy(TEST_DATABASE_URL);
  proxy = viaProxy.proxy;
  h = await startHarness('pgdown', { env: { DATABASE_URL: viaProxy.url, LOG_LEVEL: 'info', WORKER_CONCURRENCY: '40' } });
  h.sim.setLatency({ 'gpt-4o-mini': 200, 'claude-sonnet-4-6': 300 });
});
afterAll(async () => {
  await h?.close();
  await proxy?.close();
});

it('jobs in flight during a 10 s outage finish once it ends, each written once', async () => {
  const worker = startTsProcess('worker/main.ts', h.env);
  try {
    await waitForOutput(worker, /worker started/);
    const ids = await Promise.all(Array.from({ length: 120 }, (_, i) => h.client.enqueue({ userId: 'u', agentId: `a${i}`, userGoal: goal(`Outage workflow ${i}`, ...(i % 10 === 0 ? ['gpt-4o-mini=schema'] : [])), availablePlugins: PLUGINS })));
    await eventually(async () => (await h.rawQueue.getJobCounts('completed')).completed! >= 10, { timeoutMs: 30_000, what: 'some progress before the outage' });

    proxy.cut('refuse');
    const outageStarted = Date.now();
    // Answers already paid for wait in memory for the database; new jobs wait before calling.
    await waitForOutput(worker, /database unreachable/);
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - outageStarted))));
    proxy.restore();

    const results = await Promise.allSettled(ids.map((id) => h.client.waitForResult(id, { timeoutMs: 90_000 })));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(worker.child.exitCode).toBeNull();
    const byStatus = await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
    expect(byStatus).toEqual({ succeeded: 120 });
    // No call's answer was thrown away: every call the simulator answered is an attempt row.
    const [{ n }] = (await h.db.sql`select count(*)::int as n from generation_attempts where job_id in ${h.db.sql(ids)}`) as unknown as [{ n: number }];
    expect(n).toBe(h.sim.stats().totalRequests);
  } finally {
    proxy.restore();
    await worker.kill('SIGTERM');
  }
});
