/**
 * A request's deadline: transient failures retry until it, and a request that waited in the
 * queue past it ends without a model call. (The 60 s outage is in test/chaos/deadlines.test.ts.)
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generationAttempts, workflowGenerations } from '../db/schema.ts';
import { GENERATE_JOB, PRIMARY_JOB_OPTIONS } from '../shared/jobs.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('deadline', { env: { FINAL_MODEL_MAX_ATTEMPTS: '0', RETRY_BASE_DELAY_MS: '100', RETRY_MAX_DELAY_MS: '400' } });
  await h.startWorker();
});
afterAll(async () => {
  await h?.close();
});

async function finalRow(id: string) {
  return eventually(async () => {
    const [row] = await h.db.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, id));
    return row && row.status !== 'queued' ? row : null;
  }, { timeoutMs: 15_000, what: `the end of ${id}` });
}

describe('deadlines', () => {
  it('retries a transient failure past any attempt count until the deadline, then ends deadline_exceeded with every attempt recorded', async () => {
    const id = await h.client.enqueue({ userId: 'u', agentId: 'a', userGoal: goal('Always overloaded', 'gpt-4o-mini=server_error', 'claude-sonnet-4-6=overloaded'), availablePlugins: PLUGINS, deadlineMs: 5_000 });
    const row = await finalRow(id);
    expect(row.status).toBe('failed');
    expect(row.failureReason).toMatch(/^deadline_exceeded: the request's deadline of 5000 ms passed after \d+ attempts$/);
    expect(new Date(row.finishedAt as unknown as string).getTime() - new Date(row.enqueuedAt as unknown as string).getTime()).toBeGreaterThanOrEqual(5_000);
    const attempts = await h.db.db.select().from(generationAttempts).where(eq(generationAttempts.jobId, id));
    expect(attempts.length).toBeGreaterThan(4); // more than the old cap of three calls of the fallback
    expect(attempts.every((a) => a.outcome === 'api_error')).toBe(true);
    expect(row.attempts).toBe(attempts.length);
  });

  it('does not retry a request the vendor refuses as malformed (400) until the deadline', async () => {
    // The simulator answers 400 to a goal with a malformed directive, as a vendor answers a bad request.
    const id = await h.client.enqueue({ userId: 'u', agentId: 'a', userGoal: goal('Malformed', 'gpt-4o-mini=bogus'), availablePlugins: PLUGINS, deadlineMs: 60_000 });
    const row = await finalRow(id);
    expect(row.status).toBe('failed');
    const attempts = await h.db.db.select().from(generationAttempts).where(eq(generationAttempts.jobId, id)).orderBy(generationAttempts.attemptNumber);
    expect(attempts.map((a) => [a.role, a.outcome, a.httpStatus])).toEqual([
      ['primary', 'bad_request', 400],
      ['fallback', 'bad_request', 400],
    ]);
  });

  it('ends a request that waited in the queue past its deadline without calling a model', async () => {
    h.sim.resetStats();
    const id = 'deadline-passed-in-queue';
    const request = { userId: 'u', agentId: 'a', userGoal: 'Waited too long', availablePlugins: PLUGINS, deadlineMs: 1_000 };
    // Enqueued two seconds ago, as a backlog would leave it.
    await h.rawQueue.add(GENERATE_JOB, request, { ...PRIMARY_JOB_OPTIONS, jobId: id, timestamp: Date.now() - 2_000 });
    const row = await finalRow(id);
    expect(row).toMatchObject({ status: 'failed', attempts: 0 });
    expect(row.failureReason).toMatch(/^deadline_exceeded: .* after 0 attempts$/);
    expect(h.sim.stats().totalRequests).toBe(0);
  });
});
