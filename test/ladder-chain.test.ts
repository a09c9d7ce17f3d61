/**
 * orchestrator_fallback_chain end to end: a chain of three (primary, then two models), each step
 * a job of its own with an id derived from the origin id and its step, each hand-over a
 * WORKFLOW_GENERATION_FALLBACK row with from_model, to_model, reason and step, and the seed's
 * queries still counting the request once. Real Redis, Postgres, the SDKs against the simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_FALLBACK_RATE } from '../db/seed-queries.ts';
import { GenerationFailedError } from '../producer/client.ts';
import { GenerationStatusReader } from '../producer/generation-status.ts';
import { stepJobId } from '../shared/jobs.ts';
import { parseUsd } from '../shared/money.ts';
import type { WorkerRuntime } from '../worker/runtime.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { expectCleanLedger, requestRows } from './helpers/ledger.ts';

let h: Harness;
let worker: WorkerRuntime;

beforeAll(async () => {
  h = await startHarness('ladder-chain');
  worker = await h.startWorker();
  await h.db.settings.update({ primaryModel: 'gpt-4o-mini', enableFallback: true, fallbackChain: ['claude-sonnet-4-6', 'gpt-4.1-mini'] }, 'test');
  await eventually(async () => worker.settings.current().fallbackChain.length === 2, { what: 'the chain to reach the worker' });
});
afterAll(async () => {
  await h?.close();
});

const request = (text: string, ...directives: string[]) => ({ userId: 'user-1', agentId: 'agent-1', userGoal: goal(text, ...directives), availablePlugins: PLUGINS });

const rowsFor = (jobId: string) => requestRows(h.db, jobId);

describe('a chain of three', () => {
  it('climbs primary → fallback → the chain’s second model, one job and one hand-over row per step', async () => {
    const result = await h.client.generateWorkflow(request('Summarise new leads daily', 'gpt-4o-mini=schema', 'claude-sonnet-4-6=semantic'), { timeoutMs: 30_000 });
    expect(result).toMatchObject({ status: 'succeeded', generator_used: 'gpt-4.1-mini', fallback_reason: 'schema', attempts: 3 });
    const id = result.job_id;
    const { gen, attempts, audits } = await rowsFor(id);
    expect(attempts.map((a) => [a.attemptNumber, a.role, a.model, a.outcome])).toEqual([
      [1, 'primary', 'gpt-4o-mini', 'schema'],
      [2, 'fallback', 'claude-sonnet-4-6', 'semantic'],
      [3, 'fallback', 'gpt-4.1-mini', 'ok'],
    ]);
    expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATED']);
    expect(audits[0]!.details).toMatchObject({ from_model: 'gpt-4o-mini', to_model: 'claude-sonnet-4-6', reason: 'schema', step: 1 });
    expect(audits[1]!.details).toMatchObject({ from_model: 'claude-sonnet-4-6', to_model: 'gpt-4.1-mini', reason: 'semantic', step: 2 });
    expect(audits[2]!.details).toMatchObject({ generator_used: 'gpt-4.1-mini', fallback_reason: 'schema' });
    expect(parseUsd(gen.costUsd)).toBe(attempts.reduce((sum, a) => sum + parseUsd(a.costUsd), 0n));
    // Step jobs' ids derive from the origin id and the step.
    expect(stepJobId(id, 1)).toBe(`${id}-fallback`);
    expect(await h.fallbackQueue.getJob(stepJobId(id, 1))).toBeDefined();
    expect((await h.fallbackQueue.getJob(stepJobId(id, 2)))?.data).toMatchObject({ originJobId: id, step: 2, reason: 'schema', fallbackModel: 'gpt-4.1-mini' });
    await expectCleanLedger(h.db, [id], [h.rawQueue, h.fallbackQueue]);
  });

  it('the status API follows the request up the chain: the step that carries it, and that step’s model', async () => {
    // The chain's second model answers after 1.5 s, long enough to read the status while it works.
    h.sim.setFaults({ 'gpt-4.1-mini': { slowMs: 1_500 } });
    try {
      const status = new GenerationStatusReader(h.db.db, h.rawQueue, h.fallbackQueue);
      const id = await h.client.enqueue(request('Route support tickets by topic', 'gpt-4o-mini=schema', 'claude-sonnet-4-6=schema', 'gpt-4.1-mini=slow'));
      const onStep2 = await eventually(async () => {
        const snapshot = await status.read(id);
        return snapshot?.view.fallbackJobId === stepJobId(id, 2) ? snapshot : null;
      }, { what: 'the status to name the chain’s second step' });
      expect(onStep2.view).toMatchObject({ status: 'active', stage: 'fallback_started', queue: 'fallback', fallbackReason: 'schema' });
      expect(onStep2.history).toContainEqual({ stage: 'fallback_started', model: 'gpt-4.1-mini' });
      // The hand-over event still names the first fallback step's job, as a finished request's history does.
      expect(onStep2.history).toContainEqual({ stage: 'fallback_enqueued', reason: 'schema', fallbackJobId: stepJobId(id, 1) });
      const result = await h.client.waitForResult(id, { timeoutMs: 30_000 });
      expect(result).toMatchObject({ status: 'succeeded', generator_used: 'gpt-4.1-mini', fallback_reason: 'schema', attempts: 3 });
      expect((await status.read(id))?.view).toMatchObject({ status: 'succeeded', stage: 'finished', queue: null });
    } finally {
      h.sim.setFaults({});
    }
  });

  it('the seed’s fallback query counts a request that climbed two steps once', async () => {
    const rows = await h.db.sql.unsafe(SEED_FALLBACK_RATE);
    const finals = await h.db.sql`select count(*)::int as n from audit_logs where action = 'WORKFLOW_GENERATED'`;
    const fellBack = await h.db.sql`select count(*)::int as n from audit_logs where action = 'WORKFLOW_GENERATED' and details->>'fallback_reason' is not null`;
    expect(Number(rows[0]!.total_workflows)).toBe(finals[0]!.n);
    expect(Number(rows[0]!.fallback_percentage)).toBeCloseTo((fellBack[0]!.n * 100) / finals[0]!.n, 6);
    const handovers = await h.db.sql`select count(*)::int as n from audit_logs where action = 'WORKFLOW_GENERATION_FALLBACK'`;
    expect(handovers[0]!.n).toBeGreaterThan(fellBack[0]!.n);
  });

  it('the last step of the chain ends the request when it fails too', async () => {
    const id = await h.client.enqueue(request('Post a weekly digest', 'gpt-4o-mini=schema', 'claude-sonnet-4-6=schema', 'gpt-4.1-mini=semantic'));
    const err = await h.client.waitForResult(id, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GenerationFailedError);
    expect(err).toMatchObject({ code: 'GENERATION_INVALID', reason: 'semantic' });
    const { gen, audits } = await rowsFor(id);
    expect(gen).toMatchObject({ status: 'invalid', generatorUsed: 'gpt-4.1-mini', fallbackReason: 'schema', attempts: 3 });
    expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATED']);
    await expectCleanLedger(h.db, [id], [h.rawQueue, h.fallbackQueue]);
  });
});

describe('step job ids', () => {
  it('map back to their request, whatever the step', async () => {
    const { originOfStepJobId } = await import('../shared/jobs.ts');
    expect(originOfStepJobId(stepJobId('req-1', 1))).toBe('req-1');
    expect(originOfStepJobId(stepJobId('req-1', 3))).toBe('req-1');
    expect(originOfStepJobId('req-1')).toBeNull();
    expect(originOfStepJobId('my-step-2-fallback')).toBe('my-step-2');
  });
});
