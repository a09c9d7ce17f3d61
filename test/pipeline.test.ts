/**
 * The core pipeline end to end on real Redis, real Postgres and the real SDKs over HTTP
 * against the simulated provider.
 */
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BEGIN } from '../db/statements/begin.ts';
import { auditLogs, workflowGenerations } from '../db/schema.ts';
import { GenerationFailedError } from '../producer/client.ts';
import type { FailureReason } from '../shared/outcomes.ts';
import { fallbackJobId } from '../shared/jobs.ts';
import type { WorkerRuntime } from '../worker/runtime.ts';
import { requestRows } from './helpers/ledger.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';

let h: Harness;
let worker: WorkerRuntime;

beforeAll(async () => {
  h = await startHarness('pipeline');
  worker = await h.startWorker();
});
afterAll(async () => {
  await h?.close();
});

const request = (text: string, ...directives: string[]) => ({ userId: 'user-1', agentId: 'agent-1', userGoal: goal(text, ...directives), availablePlugins: PLUGINS });

const rowsFor = (jobId: string) => requestRows(h.db, jobId);

async function withSettings(next: { primaryModel: string; fallbackModel: string; enableFallback: boolean }, run: () => Promise<void>) {
  const before = await h.db.settings.read();
  await h.db.settings.update(next, 'test');
  await eventually(async () => worker.settings.current().enableFallback === next.enableFallback && worker.settings.current().primaryModel === next.primaryModel, { what: 'settings to reach the worker' });
  try {
    await run();
  } finally {
    await h.db.settings.update(before, 'test');
    await eventually(async () => worker.settings.current().enableFallback === before.enableFallback && worker.settings.current().primaryModel === before.primaryModel, { what: 'settings restored' });
  }
}

describe('happy path', () => {
  it('generates with the primary and records one result, one attempt and one final audit row', async () => {
    const result = await h.client.generateWorkflow(request('Every morning summarise unread emails and post the summary to Slack'), { timeoutMs: 20_000 });
    expect(result.status).toBe('succeeded');
    expect(result.generator_used).toBe('gpt-4o-mini');
    expect(result.fallback_reason).toBeNull();
    expect(result.pilot_steps!.length).toBeGreaterThan(0);
    expect(result.cost_usd).toBeGreaterThan(0);

    const { gen, attempts, audits } = await rowsFor(result.job_id);
    expect(gen.status).toBe('succeeded');
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ model: 'gpt-4o-mini', role: 'primary', outcome: 'ok', attemptNumber: 1 });
    expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATED']);
    expect(audits[0]!.details).toMatchObject({
      generator_used: 'gpt-4o-mini',
      primary_model: 'gpt-4o-mini',
      validation_passed: true,
      fallback_reason: null,
      steps_generated: result.steps_generated,
      tokens_used: result.tokens.total,
      cost_usd: result.cost_usd,
    });
    expect(audits[0]).toMatchObject({ severity: 'info', compliance: 'SOC2', userId: 'user-1', agentId: 'agent-1' });
  });

  it('honours an idempotency key: the same id, no second job', async () => {
    const req = { ...request('Archive newsletters weekly'), idempotencyKey: 'key-1' };
    const a = await h.client.enqueue(req);
    const b = await h.client.enqueue(req);
    expect(b).toBe(a);
    await h.client.waitForResult(a, { timeoutMs: 20_000 });
    const rows = await h.db.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, a));
    expect(rows).toHaveLength(1);
  });

  it('refuses a bad request at enqueue with an error naming the field, before Redis', async () => {
    await expect(h.client.enqueue({ ...request('x'), availablePlugins: [] })).rejects.toThrow(/availablePlugins/);
    await expect(h.client.enqueue({ ...request('x'), userGoal: 'a'.repeat(4001) })).rejects.toThrow(/userGoal/);
  });
});

describe('fallback', () => {
  const cases: Array<[string, FailureReason]> = [
    ['unparseable', 'unparseable'],
    ['truncated', 'truncated'],
    ['refusal', 'refusal'],
    ['empty', 'empty'],
    ['schema', 'schema'],
    ['semantic', 'semantic'],
    ['server_error', 'api_error'],
    ['overloaded', 'api_error'],
    ['hang', 'timeout'],
    ['auth', 'auth_error'],
    ['rate_limit', 'rate_limit'],
  ];
  for (const [fault, reason] of cases) {
    it(`falls back to the fallback model when the primary answers with ${fault} (${reason})`, async () => {
      const result = await h.client.generateWorkflow(request(`Track invoices in a sheet (${fault})`, `gpt-4o-mini=${fault}`), { timeoutMs: 30_000 });
      expect(result.status).toBe('succeeded');
      expect(result.generator_used).toBe('claude-sonnet-4-6');
      expect(result.fallback_reason).toBe(reason);
      const { attempts, audits } = await rowsFor(result.job_id);
      expect(attempts.map((a) => [a.role, a.model, a.outcome])).toEqual([
        ['primary', 'gpt-4o-mini', reason],
        ['fallback', 'claude-sonnet-4-6', 'ok'],
      ]);
      expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATED']);
      expect(audits[0]!.details).toMatchObject({ primary_model: 'gpt-4o-mini', fallback_model: 'claude-sonnet-4-6', reason });
      expect(audits[0]!.severity).toBe('warning');
      expect(audits[1]!.details).toMatchObject({ generator_used: 'claude-sonnet-4-6', fallback_reason: reason, validation_passed: true });
      // The final audit's cost covers every attempt, the wasted primary one included.
      const sum = attempts.reduce((s, a) => s + Number(a.costUsd), 0);
      expect((audits[1]!.details as { cost_usd: number }).cost_usd).toBeCloseTo(sum, 12);
      expect(await h.fallbackQueue.getJob(fallbackJobId(result.job_id))).toBeDefined();
    });
  }
});

describe('final outcomes', () => {
  it('ends as invalid when the fallback answer fails validation too: WORKFLOW_GENERATED with validation_passed false', async () => {
    const id = await h.client.enqueue(request('Post standup notes', 'gpt-4o-mini=schema', 'claude-sonnet-4-6=semantic'));
    const err = await h.client.waitForResult(id, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GenerationFailedError);
    expect((err as GenerationFailedError).code).toBe('GENERATION_INVALID');
    expect((err as GenerationFailedError).result?.validation_errors?.length).toBeGreaterThan(0);
    const { gen, audits } = await rowsFor(id);
    expect(gen).toMatchObject({ status: 'invalid', validationPassed: false, generatorUsed: 'claude-sonnet-4-6', fallbackReason: 'schema' });
    expect(gen.workflow).toBeNull();
    const final = audits.filter((a) => a.action === 'WORKFLOW_GENERATED');
    expect(final).toHaveLength(1);
    expect(final[0]!.details).toMatchObject({ validation_passed: false, fallback_reason: 'schema', generator_used: 'claude-sonnet-4-6' });
  });

  it('fails with WORKFLOW_GENERATION_FAILED when both models give no output, after bounded retries of the fallback', async () => {
    const id = await h.client.enqueue(request('Sync contacts', 'gpt-4o-mini=server_error', 'claude-sonnet-4-6=overloaded'));
    const err = await h.client.waitForResult(id, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect((err as GenerationFailedError).code).toBe('GENERATION_FAILED');
    const { gen, attempts, audits } = await rowsFor(id);
    expect(gen.status).toBe('failed');
    expect(attempts.map((a) => [a.role, a.outcome])).toEqual([
      ['primary', 'api_error'],
      ['fallback', 'api_error'],
      ['fallback', 'api_error'],
      ['fallback', 'api_error'],
    ]);
    expect(audits.map((a) => [a.action, a.severity])).toEqual([
      ['WORKFLOW_GENERATION_FALLBACK', 'warning'],
      ['WORKFLOW_GENERATION_FAILED', 'error'],
    ]);
    expect(audits[1]!.details).toMatchObject({ cost_usd: 0, tokens_used: 0 });
  });

  it('with fallback disabled, the primary failure is final: invalid output ends as invalid', async () => {
    await withSettings({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: false }, async () => {
      const id = await h.client.enqueue(request('Label support tickets', 'gpt-4o-mini=schema'));
      const err = await h.client.waitForResult(id, { timeoutMs: 20_000 }).catch((e: unknown) => e);
      expect((err as GenerationFailedError).code).toBe('GENERATION_INVALID');
      const { gen, attempts, audits } = await rowsFor(id);
      expect(gen).toMatchObject({ status: 'invalid', generatorUsed: 'gpt-4o-mini', fallbackReason: null });
      expect(attempts).toHaveLength(1);
      expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATED']);
      expect(await h.fallbackQueue.getJob(fallbackJobId(id))).toBeUndefined();
    });
  });

  it('with fallback disabled, transient primary failures retry and then fail; valid output succeeds without fallback', async () => {
    await withSettings({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: false }, async () => {
      const id = await h.client.enqueue(request('Export CRM leads', 'gpt-4o-mini=server_error'));
      const err = await h.client.waitForResult(id, { timeoutMs: 20_000 }).catch((e: unknown) => e);
      expect((err as GenerationFailedError).code).toBe('GENERATION_FAILED');
      const { attempts, audits } = await rowsFor(id);
      expect(attempts.map((a) => [a.role, a.outcome])).toEqual([
        ['primary', 'api_error'],
        ['primary', 'api_error'],
        ['primary', 'api_error'],
      ]);
      expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FAILED']);

      const ok = await h.client.generateWorkflow(request('Export CRM leads nightly'), { timeoutMs: 20_000 });
      expect(ok).toMatchObject({ status: 'succeeded', generator_used: 'gpt-4o-mini', fallback_reason: null });
    });
  });
});

describe('the pick-up row', () => {
  // The row `begin` writes is committed without waiting for the disk; a database crash right
  // after it can lose it. Deleting it while the model call is in flight stands in for that loss.
  async function loseRowDuringCall(text: string, ...directives: string[]) {
    h.sim.setLatency({ 'gpt-4o-mini': 800 });
    h.sim.resetStats();
    try {
      const id = await h.client.enqueue(request(text, ...directives));
      await eventually(async () => (await rowsFor(id)).gen?.startedAt, { what: 'the pick-up row' });
      const deleted = await h.db.db.delete(workflowGenerations).where(eq(workflowGenerations.jobId, id)).returning();
      expect(deleted).toHaveLength(1);
      const result = await h.client.waitForResult(id, { timeoutMs: 20_000 });
      // The call already made is recorded, not made again: a second call would be paid twice.
      const primaryCalls = Object.values(h.sim.stats().byModel['gpt-4o-mini'] ?? {}).reduce((n, c) => n + (c ?? 0), 0);
      expect(primaryCalls).toBe(1);
      return result;
    } finally {
      h.sim.setLatency(0);
    }
  }

  it('lost before the result is written: the worker writes it again, and the request ends with one row, its attempt and one final audit row', async () => {
    const result = await loseRowDuringCall('Post new sheet rows to Slack (row lost)');
    expect(result.status).toBe('succeeded');
    const { gen, attempts, audits } = await rowsFor(result.job_id);
    expect(gen).toMatchObject({ status: 'succeeded', attempts: 1, primaryModel: 'gpt-4o-mini' });
    expect(gen.startedAt).not.toBeNull();
    expect(gen.settings).toMatchObject({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
    expect(attempts.map((a) => [a.role, a.outcome])).toEqual([['primary', 'ok']]);
    expect(Number(gen.costUsd)).toBeGreaterThan(0);
    expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATED']);
  });

  it('lost before the hand-over is written: the failed primary attempt is still recorded and paid for, then the fallback finishes', async () => {
    const result = await loseRowDuringCall('Post new sheet rows to Slack (row lost, schema)', 'gpt-4o-mini=schema');
    expect(result).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: 'schema' });
    const { gen, attempts, audits } = await rowsFor(result.job_id);
    expect(attempts.map((a) => [a.attemptNumber, a.role, a.outcome])).toEqual([
      [1, 'primary', 'schema'],
      [2, 'fallback', 'ok'],
    ]);
    expect(gen.attempts).toBe(2);
    expect(Number(gen.costUsd)).toBeCloseTo(attempts.reduce((s, a) => s + Number(a.costUsd), 0), 12);
    expect(audits.map((a) => a.action)).toEqual(['WORKFLOW_GENERATION_FALLBACK', 'WORKFLOW_GENERATED']);
  });

  it('is committed without waiting for the WAL flush; the setting ends with its transaction', async () => {
    const conn = await h.db.sql.reserve();
    try {
      const params = BEGIN.params({ jobId: 'sync-commit-probe', userId: 'u', agentId: 'a', request: { probe: true }, settings: {}, primaryModel: 'gpt-4o-mini', enqueuedAt: new Date(), startedAt: new Date() });
      await conn.unsafe('begin');
      const [row] = await conn.unsafe(BEGIN.text, params);
      expect(row).toMatchObject({ inserted: true });
      const [inside] = await conn.unsafe("select current_setting('synchronous_commit') as value");
      await conn.unsafe('commit');
      const [after] = await conn.unsafe("select current_setting('synchronous_commit') as value");
      expect([inside?.value, after?.value]).toEqual(['off', 'on']);
    } finally {
      await conn.unsafe('delete from workflow_generations where job_id = $1', ['sync-commit-probe']);
      conn.release();
    }
  });
});

describe('rate limits', () => {
  it('a 429 pauses only that model, in Redis for every replica; fallback jobs are not delayed', async () => {
    h.sim.setFaults({ 'gpt-4o-mini': { retryAfterSeconds: 30 } });
    const pauseKey = `${h.prefix}:orchestrator:model-pause:gpt-4o-mini`;
    try {
      const first = await h.client.generateWorkflow(request('Digest RSS feeds', 'gpt-4o-mini=rate_limit'), { timeoutMs: 20_000 });
      expect(first).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: 'rate_limit' });
      // The fallback finished while the primary's 30 s pause is still in force.
      expect(await h.redis.pttl(pauseKey)).toBeGreaterThan(20_000);
      expect(await h.redis.pttl(`${h.prefix}:orchestrator:model-pause:claude-sonnet-4-6`)).toBe(-2);

      // A new primary job waits out the pause in the delayed set, holding no worker slot.
      const waiting = await h.client.enqueue(request('Digest RSS feeds again'));
      await eventually(async () => (await h.rawQueue.getJob(waiting))?.isDelayed(), { what: 'primary job delayed by the pause' });

      // A fallback job bound for the other model runs at once meanwhile.
      const req = request('Copy sheet rows to Slack');
      await h.fallbackQueue.add('generate-fallback', { originJobId: 'handed-over-1', request: req, reason: 'schema', primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enqueuedAt: Date.now(), handedOverAt: Date.now() }, { jobId: fallbackJobId('handed-over-1') });
      const done = await eventually(async () => (await rowsFor('handed-over-1')).gen?.status === 'succeeded' && (await rowsFor('handed-over-1')), { what: 'fallback job result' });
      expect(done.gen.generatorUsed).toBe('claude-sonnet-4-6');
      expect(await (await h.rawQueue.getJob(waiting))!.isDelayed()).toBe(true);
      expect(await h.redis.pttl(pauseKey)).toBeGreaterThan(0);

      // Lifting the pause lets the waiting job through to the primary.
      await h.redis.del(pauseKey);
      await eventually(async () => {
        const job = (await h.rawQueue.getJob(waiting))!;
        if (await job.isDelayed()) await job.promote().catch(() => {});
        return job.isCompleted();
      }, { what: 'the delayed job to run once the pause is lifted' });
      const later = await h.client.waitForResult(waiting, { timeoutMs: 20_000 });
      expect(later.generator_used).toBe('gpt-4o-mini');
    } finally {
      await h.redis.del(pauseKey);
      h.sim.setFaults({});
    }
  });

  it('a request that needs no model call takes back the call its early pause check counted', async () => {
    const first = await h.client.generateWorkflow(request('Archive old invoices'), { timeoutMs: 20_000 });
    expect(first.status).toBe('succeeded');
    const callsKey = `${h.prefix}:orchestrator:model-calls:gpt-4o-mini`;
    await h.redis.del(callsKey);
    const callsBefore = h.sim.stats().totalRequests;
    // The same request delivered again (its job removed, then added with the same id): the stored
    // result answers it, and the pause check that ran alongside the pick-up row goes unused.
    await (await h.rawQueue.getJob(first.job_id))!.remove();
    await h.rawQueue.add('generate', request('Archive old invoices'), { jobId: first.job_id });
    await eventually(async () => (await h.rawQueue.getJob(first.job_id))?.isCompleted(), { what: 'the replay to complete' });
    expect(h.sim.stats().totalRequests).toBe(callsBefore);
    // The check counted a call (the key exists again), then took it back.
    await eventually(async () => (await h.redis.hget(callsKey, 'cur')) === '0', { what: 'the unused call to be taken back' });
  });
});

describe('settings', () => {
  it('a change in the database reaches running workers within 2 seconds and is used by the next job', async () => {
    const before = await h.db.settings.read();
    try {
      const changedAt = Date.now();
      await h.db.settings.update({ primaryModel: 'gpt-4.1-mini', fallbackModel: 'claude-haiku-4-5', enableFallback: true }, 'test');
      await eventually(async () => worker.settings.current().primaryModel === 'gpt-4.1-mini', { timeoutMs: 2_000, what: 'the worker to see the new primary' });
      expect(Date.now() - changedAt).toBeLessThan(2_000);

      const ok = await h.client.generateWorkflow(request('Tag new Drive files'), { timeoutMs: 20_000 });
      expect(ok.generator_used).toBe('gpt-4.1-mini');
      const fb = await h.client.generateWorkflow(request('Tag new Drive files again', 'gpt-4.1-mini=schema'), { timeoutMs: 20_000 });
      expect(fb).toMatchObject({ generator_used: 'claude-haiku-4-5', fallback_reason: 'schema' });
      const { attempts } = await rowsFor(fb.job_id);
      // Each attempt records the one set of settings the request ran under.
      for (const a of attempts) expect(a.settings).toEqual({ primaryModel: 'gpt-4.1-mini', fallbackModel: 'claude-haiku-4-5', enableFallback: true });

      const audit = await h.db.db.select().from(auditLogs).where(eq(auditLogs.action, 'SETTINGS_UPDATED')).orderBy(auditLogs.id);
      expect(audit.at(-1)!.details).toMatchObject({ updated_by: 'test', new: { primaryModel: 'gpt-4.1-mini' } });
    } finally {
      await h.db.settings.update(before, 'test');
      await eventually(async () => worker.settings.current().primaryModel === before.primaryModel, { what: 'settings restored' });
    }
  });

  it('an invalid stored value is logged and the last good settings stay in force', async () => {
    await h.db.sql`update system_settings_config set value = '"gpt-9-imaginary"' where key = 'orchestrator_primary_model'`;
    try {
      const seen = worker.settings.refreshes;
      await eventually(async () => worker.settings.refreshes >= seen + 2, { what: 'two refreshes' });
      expect(worker.settings.current().primaryModel).toBe('gpt-4o-mini');
      await expect(h.db.settings.read()).rejects.toThrow(/gpt-9-imaginary/);
      await expect(h.db.settings.update({ primaryModel: 'claude-sonnet-4-6', fallbackModel: 'claude-sonnet-4-6', enableFallback: true }, 'test')).rejects.toThrow(/must differ/);
      await expect(h.db.settings.update({ primaryModel: 'gpt-9', fallbackModel: 'claude-sonnet-4-6', enableFallback: true }, 'test')).rejects.toThrow(/not a model in the catalog/);
    } finally {
      await h.db.sql`update system_settings_config set value = '"gpt-4o-mini"' where key = 'orchestrator_primary_model'`;
    }
  });
});

describe('the contract at the worker', () => {
  it('a malformed job added with a plain BullMQ client is rejected at once: no retries, no model call, one REJECTED audit row', async () => {
    const callsBefore = h.sim.stats().totalRequests;
    const job = await h.rawQueue.add('generate', { userId: 42, agentId: 'a', userGoal: '', availablePlugins: ['slack'], extra: true }, { attempts: 5, jobId: 'raw-bad-1' });
    await eventually(async () => (await h.rawQueue.getJob(job.id!))?.isFailed(), { what: 'the job to fail' });
    const failed = (await h.rawQueue.getJob(job.id!))!;
    expect(failed.failedReason).toMatch(/^GENERATION_REJECTED/);
    expect(failed.attemptsMade).toBe(1);
    expect(h.sim.stats().totalRequests).toBe(callsBefore);
    const { gen, attempts, audits } = await rowsFor('raw-bad-1');
    expect(gen.status).toBe('rejected');
    expect(attempts).toHaveLength(0);
    expect(audits.map((a) => [a.action, a.severity])).toEqual([['WORKFLOW_GENERATION_REJECTED', 'warning']]);
    const reason = (audits[0]!.details as { reason: string }).reason;
    expect(reason).toMatch(/\/userId/);
    expect(reason).toMatch(/\/userGoal/);
    expect(reason).toMatch(/\/extra/);
  });

  it('a job with a well-formed request from a plain BullMQ client is processed like any other', async () => {
    await h.rawQueue.add('generate', request('Send a weekly report'), { jobId: 'raw-good-1' });
    const result = await h.client.waitForResult('raw-good-1', { timeoutMs: 20_000 });
    expect(result.status).toBe('succeeded');
  });
});
