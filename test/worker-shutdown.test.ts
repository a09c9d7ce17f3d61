/**
 * SIGTERM: the worker stops taking jobs, lets in-flight ones finish within the grace period,
 * aborts the rest so they go back to the queue, and exits 0. Nothing is lost.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { startTsProcess, waitForOutput } from './helpers/processes.ts';

let h: Harness;

// Each test gets its own queues, so no worker of one test takes the other's jobs.
beforeEach(async () => {
  h = await startHarness('shutdown', { env: { MODEL_TIMEOUTS_MS: 'gpt-4o-mini=60000,claude-sonnet-4-6=60000' } });
});
afterEach(async () => {
  await h?.close();
});

const enqueue = (n: number, label: string) =>
  Promise.all(Array.from({ length: n }, (_, i) => h.client.enqueue({ userId: 'u', agentId: `a${i}`, userGoal: goal(`${label} ${i}`), availablePlugins: PLUGINS })));

it('in-flight jobs finish within the grace period, then the process exits 0', async () => {
  const worker = startTsProcess('worker/main.ts', { ...h.env, LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '20000' });
  await waitForOutput(worker, /worker started/);
  h.sim.setLatency({ 'gpt-4o-mini': 1_500 });
  const calls = h.sim.stats().totalRequests;
  const ids = await enqueue(5, 'Graceful');
  await eventually(async () => h.sim.stats().totalRequests >= calls + ids.length, { what: 'jobs in flight' });
  const exit = worker.kill('SIGTERM');
  await waitForOutput(worker, /shutting down gracefully/);
  const late = await enqueue(1, 'Arrives during shutdown');
  expect(await exit).toEqual({ code: 0, signal: null });
  h.sim.setLatency(0);
  for (const id of ids) expect(await (await h.rawQueue.getJob(id))!.isCompleted()).toBe(true);
  // The job that arrived after SIGTERM was not processed: it waits for the next worker.
  expect(['waiting', 'delayed']).toContain(await (await h.rawQueue.getJob(late[0]!))!.getState());
  expect((await h.db.sql`select count(*)::int as n from generation_attempts where job_id = ${late[0]!}`)[0]!.n).toBe(0);
  await h.startWorker();
  expect((await h.client.waitForResult(late[0]!, { timeoutMs: 20_000 })).status).toBe('succeeded');
});

it('jobs still in flight when the grace period ends are aborted and return to the queue; another worker finishes them', async () => {
  const worker = startTsProcess('worker/main.ts', { ...h.env, LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '500' });
  await waitForOutput(worker, /worker started/);
  h.sim.setLatency({ 'gpt-4o-mini': 30_000 });
  const calls = h.sim.stats().totalRequests;
  const ids = await enqueue(4, 'Aborted');
  await eventually(async () => h.sim.stats().totalRequests >= calls + ids.length, { what: 'jobs in flight' });
  const exit = await worker.kill('SIGTERM');
  expect(exit).toEqual({ code: 0, signal: null });
  expect(worker.output()).toMatch(/grace period over/);
  h.sim.setLatency(0);
  // Back in the queue (due at once), none left active.
  const queued = await h.rawQueue.getJobCounts('active', 'wait', 'delayed');
  expect(queued.active).toBe(0);
  expect(queued.wait! + queued.delayed!).toBe(ids.length);
  await h.startWorker();
  const results = await Promise.all(ids.map((id) => h.client.waitForResult(id, { timeoutMs: 30_000 })));
  expect(results.every((r) => r.status === 'succeeded')).toBe(true);
  const [counts] = await h.db.sql`
    select count(*)::int as attempts, count(distinct job_id)::int as jobs from generation_attempts where job_id in ${h.db.sql(ids)}`;
  // Aborted calls are not attempts: each request has exactly the one call that answered.
  expect(counts).toEqual({ attempts: ids.length, jobs: ids.length });
});
