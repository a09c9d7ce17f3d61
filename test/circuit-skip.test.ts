/**
 * A model whose circuit is open is skipped: the request goes to the next step at once, with a
 * WORKFLOW_GENERATION_FALLBACK row (reason circuit_open, no attempt) and no call to the model.
 * Real Redis (the circuit is shared through it), Postgres, the SDKs against the simulator.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLogs, generationAttempts, workflowGenerations } from '../db/schema.ts';
import { CIRCUIT_MIN_CALLS, RedisModelCircuit } from '../shared/model-circuit.ts';
import { goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { expectCleanLedger } from './helpers/ledger.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('circuit-skip');
  await h.startWorker();
});
afterAll(async () => {
  await h?.close();
});

const request = (text: string) => ({ userId: 'user-1', agentId: 'agent-1', userGoal: goal(text), availablePlugins: PLUGINS });

describe('an open circuit', () => {
  it('skips the primary: the fallback answers, the primary is never called, the hand-over is recorded', async () => {
    // Another replica saw the primary fail: its circuit, shared through Redis, is open.
    const circuit = new RedisModelCircuit(h.redis, h.prefix);
    for (let i = 0; i < CIRCUIT_MIN_CALLS; i++) await circuit.record('gpt-4o-mini', true);
    expect((await circuit.views(['gpt-4o-mini']))[0]!.state).toBe('open');
    h.sim.resetStats();

    const result = await h.client.generateWorkflow(request('Summarise unread email every morning'), { timeoutMs: 20_000 });
    expect(result).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: 'circuit_open', attempts: 1 });
    expect(h.sim.received().map((c) => c.model)).toEqual(['claude-sonnet-4-6']);

    const attempts = await h.db.db.select().from(generationAttempts).where(eq(generationAttempts.jobId, result.job_id));
    expect(attempts.map((a) => [a.role, a.model, a.outcome])).toEqual([['fallback', 'claude-sonnet-4-6', 'ok']]);
    const audits = await h.db.db.select().from(auditLogs).where(eq(auditLogs.jobId, result.job_id)).orderBy(auditLogs.id);
    expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATED']);
    expect(audits[0]!.details).toMatchObject({ from_model: 'gpt-4o-mini', to_model: 'claude-sonnet-4-6', reason: 'circuit_open', step: 1, cost_usd_wasted: 0 });
    const [gen] = await h.db.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, result.job_id));
    expect(gen).toMatchObject({ status: 'succeeded', fallbackReason: 'circuit_open' });
    await expectCleanLedger(h.db, [result.job_id], [h.rawQueue, h.fallbackQueue]);
  });

  it('the last step is called even when its own circuit is open: there is nowhere else to go', async () => {
    const circuit = new RedisModelCircuit(h.redis, h.prefix);
    for (let i = 0; i < CIRCUIT_MIN_CALLS; i++) await circuit.record('claude-sonnet-4-6', true);
    expect((await circuit.views(['gpt-4o-mini', 'claude-sonnet-4-6'])).map((v) => v.state)).toEqual(['open', 'open']);
    h.sim.resetStats();
    const result = await h.client.generateWorkflow(request('Post the weekly report to Slack'), { timeoutMs: 20_000 });
    expect(result).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: 'circuit_open' });
    expect(h.sim.received().map((c) => c.model)).toEqual(['claude-sonnet-4-6']);
  });
});
