/**
 * A worker process killed with SIGKILL mid-job: another worker takes the stalled jobs over and
 * each request still ends with exactly one result row and one final audit row.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { startTsProcess, waitForOutput } from './helpers/processes.ts';

let h: Harness;
const FAST_RECOVERY = { JOB_LOCK_MS: '2000', STALLED_INTERVAL_MS: '1000', MODEL_TIMEOUTS_MS: 'gpt-4o-mini=60000,claude-sonnet-4-6=60000' };

beforeAll(async () => {
  h = await startHarness('crash', { env: FAST_RECOVERY });
});
afterAll(async () => {
  await h?.close();
});

it('jobs in flight on a SIGKILLed worker finish on another worker, once each', async () => {
  const doomed = startTsProcess('worker/main.ts', { ...h.env, LOG_LEVEL: 'info' });
  try {
    await waitForOutput(doomed, /worker started/);
    // The primary answers slowly, so the jobs are in flight when the worker dies.
    h.sim.setLatency({ 'gpt-4o-mini': 30_000 });
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => h.client.enqueue({ userId: 'u', agentId: `a${i}`, userGoal: goal(`Crash test workflow ${i}`), availablePlugins: PLUGINS })));
    await eventually(async () => h.sim.stats().totalRequests >= ids.length, { what: 'every job to reach the model' });
    const active = await h.rawQueue.getJobCounts('active');
    expect(active.active).toBe(ids.length);
    const { signal } = await doomed.kill('SIGKILL');
    expect(signal).toBe('SIGKILL');
  } finally {
    await doomed.kill('SIGKILL');
  }

  h.sim.setLatency(0);
  await h.startWorker();
  const results = await Promise.all((await h.rawQueue.getJobs(['active', 'wait', 'completed', 'delayed'])).map((j) => h.client.waitForResult(j.id!, { timeoutMs: 30_000 })));
  expect(results.map((r) => r.status)).toEqual(Array(8).fill('succeeded'));

  const [counts] = await h.db.sql`
    select (select count(*) from workflow_generations where status = 'succeeded')::int as results,
           (select count(*) from audit_logs where action = 'WORKFLOW_GENERATED')::int as finals,
           (select count(*) from generation_attempts)::int as attempts,
           (select count(distinct job_id) from generation_attempts)::int as jobs_with_attempts`;
  // The killed calls never returned: nothing was recorded for them, and nothing twice.
  expect(counts).toEqual({ results: 8, finals: 8, attempts: 8, jobs_with_attempts: 8 });
  expect(h.sim.stats().byModel['gpt-4o-mini']?.ok).toBe(16);
  expect((await h.rawQueue.getJobCounts('active')).active).toBe(0);
});

it('a job its workers died on three times is failed as poison, with a recorded final failure', async () => {
  await h.startWorker();
  const calls = h.sim.stats().totalRequests;
  // What BullMQ's stalled checker leaves on a job after three workers died holding it.
  const job = await h.rawQueue.add('generate', { userId: 'u', agentId: 'poison', userGoal: 'A goal that kills workers', availablePlugins: PLUGINS }, { jobId: 'poison-1', delay: 60_000 });
  await h.redis.hset(`${h.prefix}:workflow-generation:${job.id}`, 'stc', '3');
  await job.promote();
  await eventually(async () => (await h.rawQueue.getJob(job.id!))?.isFailed(), { what: 'the poison job to fail' });
  expect((await h.rawQueue.getJob(job.id!))!.failedReason).toMatch(/^GENERATION_FAILED: abandoned/);
  expect(h.sim.stats().totalRequests).toBe(calls);
  const [row] = await h.db.sql`select status, failure_reason from workflow_generations where job_id = 'poison-1'`;
  expect(row).toMatchObject({ status: 'failed', failure_reason: expect.stringMatching(/worker died 3 times/) });
  const audits = await h.db.sql`select action from audit_logs where job_id = 'poison-1'`;
  expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FAILED']);
});
