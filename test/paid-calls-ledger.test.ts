/**
 * Every model call the vendor answered lands on the ledger, priced, whatever its answer holds;
 * a write the database refuses ends the request instead of paying for the call again.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditLogs, generationAttempts, workflowGenerations } from '../db/schema.ts';
import { costOf, formatUsd, parseUsd } from '../shared/money.ts';
import { findModel } from '../shared/default-catalog.ts';
import { findUnstorable, isStorableText, storableText } from '../shared/storable-text.ts';
import { AttemptRunner } from '../worker/attempt-runner.ts';
import type { LlmCall, LlmClient, LlmResult } from '../worker/llm/llm-client.ts';
import { systemClock } from '../worker/clock.ts';
import type { Answer } from './simulator/server.ts';
import { eventually, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('ledger');
  await h.startWorker();
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => h.sim.resetStats());

const FINAL_ACTIONS = ['WORKFLOW_GENERATED', 'WORKFLOW_GENERATION_FAILED', 'WORKFLOW_GENERATION_REJECTED'];

async function finalRow(jobId: string) {
  return eventually(
    async () => {
      const [row] = await h.db.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, jobId));
      return row && row.status !== 'queued' ? row : null;
    },
    { timeoutMs: 30_000, what: `a final status for ${jobId}` },
  );
}

/** The ledger of a finished request: one priced attempt per vendor call, one final audit row. */
async function expectExactLedger(jobId: string) {
  const row = await finalRow(jobId);
  const attempts = await h.db.db.select().from(generationAttempts).where(eq(generationAttempts.jobId, jobId)).orderBy(generationAttempts.attemptNumber);
  const calls = Object.values(h.sim.stats().byModel).reduce((n, byOutcome) => n + Object.values(byOutcome).reduce((a, b) => a + (b ?? 0), 0), 0);
  expect(attempts.length).toBe(calls);
  for (const a of attempts) {
    const usage = { inputTokens: a.inputTokens, outputTokens: a.outputTokens, cachedInputTokens: a.cachedInputTokens, cacheWriteTokens: a.cacheWriteTokens };
    expect(a.inputTokens + a.outputTokens).toBeGreaterThan(0);
    expect(parseUsd(a.costUsd)).toBeGreaterThan(0n);
    expect(formatUsd(parseUsd(a.costUsd))).toBe(formatUsd(costOf(findModel(a.model)!, usage)));
  }
  const total = attempts.reduce((sum, a) => sum + parseUsd(a.costUsd), 0n);
  expect(formatUsd(parseUsd(row.costUsd))).toBe(formatUsd(total));
  const audits = await h.db.db.select().from(auditLogs).where(eq(auditLogs.jobId, jobId));
  expect(audits.filter((a) => FINAL_ACTIONS.includes(a.action))).toHaveLength(1);
  return { row, attempts };
}

const enqueue = (userGoal: string) => h.client.enqueue({ userId: 'u', agentId: 'a', userGoal, availablePlugins: PLUGINS });
const valid = (name: string) => ({
  name,
  description: 'Reads mail and posts it',
  pilot_steps: [{ id: 'fetch', type: 'plugin_action', name: 'Fetch', plugin: 'google-mail', action: 'search', params: [] }],
});
const json = (value: unknown): Answer => ({ kind: 'json', value });
let deep: unknown = [];
for (let i = 0; i < 10_000; i++) deep = [deep];
/**
 * The same answer as text, written without JSON.stringify: Node 24's V8 overflows its stack
 * stringifying 10,000 levels (26's does not), so a simulator on 24 could not send it as JSON.
 * As text it reaches the worker on both lines, which parses it (JSON.parse does not recurse).
 */
const deepAnswerText = JSON.stringify({ ...valid('Deep'), pilot_steps: '@' }).replace('"@"', `${'['.repeat(10_001)}${']'.repeat(10_001)}`);

/**
 * [what, the answer both models give, the final status, the outcome of each attempt]. The
 * simulator cannot dress 10,000-deep nesting as an Anthropic tool call (its serialiser
 * recurses), so there only the primary answers with it and the fallback writes its own.
 */
const CORPUS: Array<[string, Answer, string, string[]]> = [
  ['a NUL character', json(valid('Mail\u0000digest')), 'invalid', ['unstorable', 'unstorable']],
  ['a lone high surrogate', json(valid('Mail \ud83d digest')), 'invalid', ['unstorable', 'unstorable']],
  ['a lone low surrogate', json(valid('Mail \ude00 digest')), 'invalid', ['unstorable', 'unstorable']],
  ['a lone surrogate in a key', json({ ...valid('Mail digest'), ['x\ud800']: 1 }), 'invalid', ['unstorable', 'unstorable']],
  ['U+FFFF (a noncharacter Postgres stores)', json(valid('Mail \uffff digest')), 'succeeded', ['ok']],
  ['a 1 MB string', json(valid('x'.repeat(1024 * 1024))), 'invalid', ['schema', 'schema']],
  ['10,000-deep nesting', { kind: 'text', text: deepAnswerText, cut: false }, 'succeeded', ['schema', 'ok']],
];

describe('the ledger of bad model answers', () => {
  for (const [what, answer, status, outcomes] of CORPUS) {
    it(`${what}: ${status}, one priced attempt per call (${outcomes.join(', ')}), one final audit row`, async () => {
      h.sim.setScript('gpt-4o-mini', [answer]);
      h.sim.setScript('claude-sonnet-4-6', what.includes('nesting') ? [] : [answer]);
      const id = await enqueue(`Ledger corpus: ${what}`);
      const { row, attempts } = await expectExactLedger(id);
      expect(row.status).toBe(status);
      expect(attempts.map((a) => a.outcome)).toEqual(outcomes);
      if (outcomes[0] === 'unstorable') {
        const errors = attempts[0]!.validationErrors as Array<{ path: string; code: string }>;
        expect(errors[0]).toMatchObject({ code: 'unstorable_text', path: what.includes('key') ? '/x\ufffd' : '/name' });
      }
    }, 60_000);
  }

  it("a goal of 200 emoji: the simulator's excerpt cuts a surrogate pair, and both paid calls are recorded", async () => {
    const id = await enqueue('😀'.repeat(200));
    const { row, attempts } = await expectExactLedger(id);
    expect(row.status).toBe('invalid');
    expect(attempts.map((a) => [a.role, a.outcome])).toEqual([
      ['primary', 'unstorable'],
      ['fallback', 'unstorable'],
    ]);
    const pointer = (attempts[0]!.validationErrors as Array<{ path: string }>)[0]!.path;
    expect(pointer).toMatch(/^\/(name|description|pilot_steps\/.+)$/);
  }, 60_000);

  it('a result the database refuses is recorded as a failure with its paid attempt, and the model is not called again', async () => {
    // A real refusal by Postgres, of a workflow that passes every check of ours.
    const schema = `"${h.db.schemaName}"`;
    await h.db.sql.unsafe(`create function ${schema}.refuse_marked() returns trigger language plpgsql as $$
      begin raise exception 'refused by test trigger' using errcode = '23514'; end $$`);
    await h.db.sql.unsafe(`create trigger refuse_marked before update on ${schema}.workflow_generations for each row
      when (new.workflow::text like '%refuse-this-result%') execute function ${schema}.refuse_marked()`);
    h.sim.setScript('gpt-4o-mini', [json(valid('refuse-this-result'))]);
    try {
      const id = await enqueue('A result the database refuses');
      const { row, attempts } = await expectExactLedger(id);
      expect(row.status).toBe('failed');
      expect(row.failureReason).toMatch(/^storage_refused: .*refused by test trigger/);
      expect(attempts.map((a) => [a.role, a.outcome])).toEqual([['primary', 'ok']]);
      const [audit] = await h.db.db.select().from(auditLogs).where(and(eq(auditLogs.jobId, id), eq(auditLogs.action, 'WORKFLOW_GENERATION_FAILED')));
      expect(audit).toBeDefined();
    } finally {
      await h.db.sql.unsafe(`drop trigger refuse_marked on ${schema}.workflow_generations`);
    }
  }, 60_000);
});

describe('storable text', () => {
  it('finds NUL and lone surrogates of either half, with a JSON pointer; pairs and U+FFFF pass', () => {
    expect(isStorableText('😀 \uffff \ufffe')).toBe(true);
    for (const bad of ['a\u0000', '\ud83d', 'x\ud83dy', '\ude00', '\ude00\ud83d']) expect(isStorableText(bad)).toBe(false);
    expect(storableText('a\u0000b\ud83dc\ude00😀')).toBe('a\ufffdb\ufffdc\ufffd😀');
    expect(findUnstorable({ a: [{ 'b/c': 'ok' }, { d: 'x\ud800' }] })).toMatchObject({ path: '/a/1/d', code: 'unstorable_text' });
    expect(findUnstorable({ 'k~\u0000': 1 })).toMatchObject({ path: '/k~0\ufffd' });
    expect(findUnstorable(deep)).toBeNull();
  });
});

describe('the attempt runner', () => {
  const usage = { inputTokens: 1_000, outputTokens: 500, cachedInputTokens: 0, cacheWriteTokens: 0 };
  const calls: LlmCall[] = [];
  /** Our own port, answering with a value no check foresaw: reading it throws. */
  const client: LlmClient = {
    async call(call): Promise<LlmResult> {
      calls.push(call);
      const structured = Object.defineProperty({}, 'pilot_steps', { enumerable: true, get: () => { throw new Error('a value that cannot be read'); } });
      return { kind: 'answer', text: null, structured, hasStructured: true, finish: 'complete', refusal: null, usage, requestId: null };
    },
  };
  const runner = new AttemptRunner({ clients: { clientFor: () => client }, clock: systemClock });
  const model = findModel('gpt-4o-mini')!;
  const request = { userId: 'u', agentId: 'a', userGoal: 'Check', availablePlugins: ['slack'] };

  it('prices an answer whose check throws, as a schema failure, instead of losing the attempt', async () => {
    const r = await runner.run(model, request, new AbortController().signal);
    expect(r).toMatchObject({ outcome: 'schema', validationErrors: [{ code: 'check_failed' }] });
    expect(r.cost).toBe(costOf(model, usage));
    expect(r.cost).toBeGreaterThan(0n);
  });

  it("shortens a call's timeout to the time left before the request's deadline", async () => {
    await runner.run(model, request, new AbortController().signal, undefined, 1_234.5);
    expect(calls.at(-1)!.timeoutMs).toBe(1_235);
    await runner.run(model, request, new AbortController().signal);
    expect(calls.at(-1)!.timeoutMs).toBe(model.timeoutMs);
  });
});
