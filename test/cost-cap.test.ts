/**
 * orchestrator_max_cost_per_request_usd end to end: real Redis, Postgres, the SDKs against the
 * simulator. A call whose worst-case price would take the request past its cap is never made;
 * the request ends `failed` with reason `cost_cap`, its audit row says so, and the ledger holds
 * exactly the calls that were made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationFailedError } from '../producer/client.ts';
import { DEFAULT_CATALOG } from '../shared/default-catalog.ts';
import { formatUsd, parseUsd } from '../shared/money.ts';
import { worstCasePrice } from '../worker/ladder-price.ts';
import { firstCallPrompt } from '../worker/repair-prompt.ts';
import type { WorkerRuntime } from '../worker/runtime.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { expectCleanLedger, requestRows } from './helpers/ledger.ts';

let h: Harness;
let worker: WorkerRuntime;

beforeAll(async () => {
  h = await startHarness('cost-cap');
  worker = await h.startWorker();
});
afterAll(async () => {
  await h?.close();
});

const request = (text: string, ...directives: string[]) => ({ userId: 'user-1', agentId: 'agent-1', userGoal: goal(text, ...directives), availablePlugins: PLUGINS });

async function withCap(cap: string, run: () => Promise<void>) {
  await h.db.settings.update({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true, maxCostPerRequestUsd: cap }, 'test');
  await eventually(async () => worker.settings.current().maxCostPerRequestUsd === cap, { what: 'the cap to reach the worker' });
  try {
    await run();
  } finally {
    await h.db.settings.update({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true, maxCostPerRequestUsd: null }, 'test');
    await eventually(async () => worker.settings.current().maxCostPerRequestUsd === null, { what: 'the cap removed' });
  }
}

const rowsFor = (jobId: string) => requestRows(h.db, jobId);

describe('the cost cap', () => {
  it('a cap below the first call’s worst case: no call at all, failed with cost_cap', async () => {
    await withCap('0.000001', async () => {
      const callsBefore = h.sim.received().length;
      const id = await h.client.enqueue(request('Summarise my inbox every morning'));
      const err = await h.client.waitForResult(id, { timeoutMs: 20_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GenerationFailedError);
      expect(err).toMatchObject({ code: 'GENERATION_FAILED', reason: 'cost_cap' });
      const { gen, attempts, audits } = await rowsFor(id);
      expect(attempts).toEqual([]);
      expect(gen).toMatchObject({ status: 'failed', costUsd: '0.000000000000', fallbackReason: null });
      expect(gen.failureReason).toMatch(/^cost_cap: the next call \(gpt-4o-mini\) could cost up to \$0\.\d+, which would take the request's spend of \$0\.000000000000 past its cap of \$0\.000001000000$/);
      expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FAILED']);
      expect((audits[0]!.details as { reason: string }).reason).toMatch(/^cost_cap: /);
      expect(h.sim.received().length).toBe(callsBefore);
    });
  });

  it('a cap that allows the primary but not the fallback: the primary is paid for, the fallback never called', async () => {
    const req = request('Post standup notes to Slack', 'gpt-4o-mini=schema');
    const worst = (id: string) => worstCasePrice(DEFAULT_CATALOG.find(id)!, firstCallPrompt(req, DEFAULT_CATALOG.find(id)!));
    const primaryWorst = worst('gpt-4o-mini');
    const fallbackWorst = worst('claude-sonnet-4-6');
    expect(fallbackWorst).toBeGreaterThan(2n * primaryWorst);
    // Room for the primary's worst case twice over, never for the fallback's.
    const cap = formatUsd(2n * primaryWorst).replace(/0+$/, '');
    await withCap(cap, async () => {
      const id = await h.client.enqueue(req);
      const err = await h.client.waitForResult(id, { timeoutMs: 20_000 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'GENERATION_FAILED', reason: 'cost_cap' });
      const { gen, attempts, audits } = await rowsFor(id);
      expect(attempts.map((a) => [a.role, a.model, a.outcome])).toEqual([['primary', 'gpt-4o-mini', 'schema']]);
      expect(gen).toMatchObject({ status: 'failed', fallbackReason: 'schema', attempts: 1 });
      expect(parseUsd(gen.costUsd)).toBe(parseUsd(attempts[0]!.costUsd));
      expect(parseUsd(gen.costUsd)).toBeGreaterThan(0n);
      expect(gen.failureReason).toMatch(/^cost_cap: the next call \(claude-sonnet-4-6\)/);
      expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATION_FAILED']);
      expect(gen.settings).toMatchObject({ maxCostPerRequestUsd: cap });
      await expectCleanLedger(h.db, [id], [h.rawQueue, h.fallbackQueue]);
    });
  });

  it('with no cap the same request goes on to the fallback', async () => {
    const result = await h.client.generateWorkflow(request('Post standup notes to Slack daily', 'gpt-4o-mini=schema'), { timeoutMs: 20_000 });
    expect(result).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: 'schema' });
  });
});
