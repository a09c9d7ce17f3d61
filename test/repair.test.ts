/**
 * orchestrator_repair_attempts end to end: a model whose answer fails validation is re-asked with
 * its own errors and answer, as an attempt row with role `repair`; when the repairs are spent the
 * ladder moves on. Real Redis, Postgres, the SDKs against the simulator (whose repair calls follow
 * `[sim-repair:…]` directives).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUsd } from '../shared/money.ts';
import type { WorkerRuntime } from '../worker/runtime.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { expectCleanLedger, requestRows } from './helpers/ledger.ts';

let h: Harness;
let worker: WorkerRuntime;

beforeAll(async () => {
  h = await startHarness('repair');
  worker = await h.startWorker();
  await h.db.settings.update({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true, repairAttempts: 1 }, 'test');
  await eventually(async () => worker.settings.current().repairAttempts === 1, { what: 'repairs to reach the worker' });
});
afterAll(async () => {
  await h?.close();
});

const request = (text: string, repair: string, ...directives: string[]) => ({ userId: 'user-1', agentId: 'agent-1', userGoal: `${goal(text, ...directives)} ${repair}`, availablePlugins: PLUGINS });

const rowsFor = (jobId: string) => requestRows(h.db, jobId);

describe('repairs', () => {
  it('a repaired answer is the result: the primary succeeds on its second try, no hand-over', async () => {
    h.sim.resetStats();
    const result = await h.client.generateWorkflow(request('Label support tickets by urgency', '[sim-repair:gpt-4o-mini=ok]', 'gpt-4o-mini=schema'), { timeoutMs: 20_000 });
    expect(result).toMatchObject({ status: 'succeeded', generator_used: 'gpt-4o-mini', fallback_reason: null, attempts: 2 });
    const { gen, attempts, audits } = await rowsFor(result.job_id);
    expect(attempts.map((a) => [a.attemptNumber, a.role, a.model, a.outcome])).toEqual([
      [1, 'primary', 'gpt-4o-mini', 'schema'],
      [2, 'repair', 'gpt-4o-mini', 'ok'],
    ]);
    expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATED']);
    expect(parseUsd(gen.costUsd)).toBe(parseUsd(attempts[0]!.costUsd) + parseUsd(attempts[1]!.costUsd));
    expect(gen.settings).toMatchObject({ repairAttempts: 1 });
    // The repair call carried the failing answer and its errors, as data fields.
    const calls = h.sim.received();
    expect(calls).toHaveLength(2);
    expect(calls[0]!.userText).not.toContain('<previous_answer>');
    expect(calls[1]!.userText).toContain('<previous_answer>');
    expect(calls[1]!.userText).toContain('<validation_errors>');
    await expectCleanLedger(h.db, [result.job_id], [h.rawQueue, h.fallbackQueue]);
  });

  it('repairs exhausted: the ladder moves on to the fallback with the repair’s outcome as the reason', async () => {
    const result = await h.client.generateWorkflow(request('Archive old invoices monthly', '[sim-repair:gpt-4o-mini=semantic]', 'gpt-4o-mini=schema'), { timeoutMs: 20_000 });
    expect(result).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: 'semantic', attempts: 3 });
    const { attempts, audits } = await rowsFor(result.job_id);
    expect(attempts.map((a) => [a.role, a.model, a.outcome])).toEqual([
      ['primary', 'gpt-4o-mini', 'schema'],
      ['repair', 'gpt-4o-mini', 'semantic'],
      ['fallback', 'claude-sonnet-4-6', 'ok'],
    ]);
    expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATED']);
    expect(audits[0]!.details).toMatchObject({ reason: 'semantic', attempt_number: 2 });
    await expectCleanLedger(h.db, [result.job_id], [h.rawQueue, h.fallbackQueue]);
  });

  it('the fallback repairs too, and ends invalid when its repair fails as well', async () => {
    const id = await h.client.enqueue(request('Sync contacts to the sheet', '[sim-repair:*=schema]', 'gpt-4o-mini=schema', 'claude-sonnet-4-6=semantic'));
    const err = await h.client.waitForResult(id, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'GENERATION_INVALID', reason: 'schema' });
    const { gen, attempts, audits } = await rowsFor(id);
    expect(attempts.map((a) => [a.role, a.model, a.outcome])).toEqual([
      ['primary', 'gpt-4o-mini', 'schema'],
      ['repair', 'gpt-4o-mini', 'schema'],
      ['fallback', 'claude-sonnet-4-6', 'semantic'],
      ['repair', 'claude-sonnet-4-6', 'schema'],
    ]);
    expect(gen).toMatchObject({ status: 'invalid', generatorUsed: 'claude-sonnet-4-6', fallbackReason: 'schema', attempts: 4 });
    expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATED']);
    await expectCleanLedger(h.db, [id], [h.rawQueue, h.fallbackQueue]);
  });
});

describe('repair and ladder metrics', () => {
  it('count repairs by model and outcome, and hand-overs by step, with bounded labels', async () => {
    const text = await worker.registry.metrics();
    expect(text).toMatch(/orchestrator_repairs_total\{model="gpt-4o-mini",outcome="ok"\} 1\b/);
    expect(text).toMatch(/orchestrator_repairs_total\{model="gpt-4o-mini",outcome="semantic"\} 1\b/);
    expect(text).toMatch(/orchestrator_repairs_total\{model="claude-sonnet-4-6",outcome="schema"\} 1\b/);
    expect(text).toMatch(/orchestrator_ladder_handovers_total\{step="1",reason="semantic"\} 1\b/);
    expect(text).toMatch(/orchestrator_model_attempts_total\{model="gpt-4o-mini",role="repair",outcome="ok"\} 1\b/);
  });
});
