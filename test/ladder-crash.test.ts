/**
 * A worker SIGKILLed in the middle of the ladder (a chain of three with repairs, killed while
 * its last step's call is in flight): another worker takes the step's job over, and the request
 * ends with exactly one final row, one final audit row, one hand-over row per step and every
 * answered call on the ledger once.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { auditLogs, generationAttempts, workflowGenerations } from '../db/schema.ts';
import { stepJobId } from '../shared/jobs.ts';
import { parseUsd } from '../shared/money.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { expectCleanLedger } from './helpers/ledger.ts';
import { startTsProcess, waitForOutput } from './helpers/processes.ts';

let h: Harness;
const FAST_RECOVERY = { JOB_LOCK_MS: '2000', STALLED_INTERVAL_MS: '1000', MODEL_TIMEOUTS_MS: 'gpt-4o-mini=60000,claude-sonnet-4-6=60000,gpt-4.1-mini=60000' };

beforeAll(async () => {
  h = await startHarness('ladder-crash', { env: FAST_RECOVERY });
  await h.db.settings.update({ primaryModel: 'gpt-4o-mini', enableFallback: true, fallbackChain: ['claude-sonnet-4-6', 'gpt-4.1-mini'], repairAttempts: 1 }, 'test');
});
afterAll(async () => {
  await h?.close();
});

it('a worker killed on the last step of a chain of three: one final row, one final audit row, the exact ledger', async () => {
  const doomed = startTsProcess('worker/main.ts', { ...h.env, LOG_LEVEL: 'info' });
  let id: string;
  try {
    await waitForOutput(doomed, /worker started/);
    // The chain's last model answers slowly, so the request is in flight there when the worker dies.
    h.sim.setLatency({ 'gpt-4.1-mini': 30_000 });
    id = await h.client.enqueue({ userId: 'u', agentId: 'a', userGoal: `${goal('Crash in the middle of the ladder', 'gpt-4o-mini=schema', 'claude-sonnet-4-6=semantic')} [sim-repair:*=schema]`, availablePlugins: PLUGINS });
    await eventually(async () => h.sim.received().some((c) => c.model === 'gpt-4.1-mini'), { what: 'the last step to call its model' });
    expect(await h.fallbackQueue.getJobState(stepJobId(id, 2))).toBe('active');
    const { signal } = await doomed.kill('SIGKILL');
    expect(signal).toBe('SIGKILL');
  } finally {
    await doomed.kill('SIGKILL');
  }

  h.sim.setLatency(0);
  await h.startWorker();
  const result = await h.client.waitForResult(id, { timeoutMs: 30_000 });
  expect(result).toMatchObject({ status: 'succeeded', generator_used: 'gpt-4.1-mini', fallback_reason: 'schema' });

  const attempts = await h.db.db.select().from(generationAttempts).where(eq(generationAttempts.jobId, id)).orderBy(generationAttempts.attemptNumber);
  // The killed call never returned: nothing was recorded for it, and nothing twice.
  expect(attempts.map((a) => [a.attemptNumber, a.role, a.model, a.outcome])).toEqual([
    [1, 'primary', 'gpt-4o-mini', 'schema'],
    [2, 'repair', 'gpt-4o-mini', 'schema'],
    [3, 'fallback', 'claude-sonnet-4-6', 'semantic'],
    [4, 'repair', 'claude-sonnet-4-6', 'schema'],
    [5, 'fallback', 'gpt-4.1-mini', 'ok'],
  ]);
  const audits = await h.db.db.select().from(auditLogs).where(eq(auditLogs.jobId, id)).orderBy(auditLogs.id);
  expect(audits.map((a) => [a.action, (a.details as { step?: number }).step ?? null])).toEqual([
    ['WORKFLOW_GENERATION_FALLBACK', 1],
    ['WORKFLOW_GENERATION_FALLBACK', 2],
    ['WORKFLOW_GENERATED', null],
  ]);
  const [gen] = await h.db.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, id));
  expect(parseUsd(gen!.costUsd)).toBe(attempts.reduce((sum, a) => sum + parseUsd(a.costUsd), 0n));
  await expectCleanLedger(h.db, [id], [h.rawQueue, h.fallbackQueue]);
});
