/**
 * Group commit of the hot-path writes (db/write-batcher.ts): `begin` and `finish` calls made
 * while others are in flight go out as one statement, and each call still gets exactly what the
 * single statement gives it: the same rows, totals and audit details, the same answers for
 * resumed and finished requests, the same errors, and nothing written twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttemptRecord, type BeginInput, DrizzleGenerationRepository, type FinalOutcome } from '../db/generation-repository.ts';
import { type BatchReport, WriteBatcher } from '../db/write-batcher.ts';
import { RequestRowMissingError } from '../shared/errors.ts';
import { parseUsd } from '../shared/money.ts';
import { DEFAULT_SETTINGS } from '../shared/settings.ts';
import type { Workflow } from '../shared/workflow-schema.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';

let db: TestDatabase;
const reports: { write: 'begin' | 'finish'; report: BatchReport }[] = [];
/** One batch in flight at most: calls made together form one batch. */
let batched: DrizzleGenerationRepository;
/** Batches of one: the single statements, as the reference. */
let single: DrizzleGenerationRepository;

beforeAll(async () => {
  db = await createTestDatabase('batching');
  batched = new DrizzleGenerationRepository(db.db, { batching: { maxInFlight: 1 }, onBatch: (write, report) => reports.push({ write, report }) });
  single = new DrizzleGenerationRepository(db.db, { batching: { maxBatch: 1 } });
});
afterAll(async () => {
  await db?.drop();
});

const T0 = Date.parse('2026-11-25T12:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);

function beginInput(jobId: string, i: number): BeginInput {
  return { jobId, userId: `user-${i % 3}`, agentId: `agent-${i}`, request: { userGoal: `goal ${i}`, n: i }, settings: DEFAULT_SETTINGS, enqueuedAt: at(i), startedAt: at(100 + i) };
}

function attempt(jobId: string, i: number, number = 1, over: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    jobId,
    attemptNumber: number,
    model: number === 1 ? 'gpt-4o-mini' : 'claude-sonnet-4-6',
    provider: number === 1 ? 'openai' : 'anthropic',
    role: number === 1 ? 'primary' : 'fallback',
    outcome: i % 4 === 3 ? 'schema' : 'ok',
    validationErrors: i % 4 === 3 ? [{ path: '/workflow_steps/0', code: 'required', message: 'must have id' }] : null,
    errorMessage: i % 4 === 3 ? `bad answer ${i}` : null,
    httpStatus: 200,
    retryAfterMs: null,
    usage: { inputTokens: 1000 + i, outputTokens: 300 + i, cachedInputTokens: i % 2 ? 128 : 0, cacheWriteTokens: 0 },
    cost: parseUsd(`0.000${100 + i}12345`),
    latencyMs: 800 + i,
    settings: DEFAULT_SETTINGS,
    startedAt: at(200 + i + number * 1_000),
    finishedAt: at(900 + i + number * 1_000),
    ...over,
  };
}

function workflow(i: number): Workflow {
  return { workflow_steps: [{ id: `step-${i}`, plugin: 'gmail', action: 'read', params: { n: i } }] } as unknown as Workflow;
}

function outcome(jobId: string, i: number): FinalOutcome {
  const failed = i % 5 === 4;
  return {
    jobId,
    userId: `user-${i % 3}`,
    agentId: `agent-${i}`,
    status: failed ? 'failed' : i % 4 === 3 ? 'invalid' : 'succeeded',
    workflow: failed ? null : workflow(i),
    stepsGenerated: failed ? 0 : 1,
    generatorUsed: failed ? null : 'gpt-4o-mini',
    primaryModel: 'gpt-4o-mini',
    fallbackModel: null,
    fallbackReason: null,
    validationPassed: failed ? null : i % 4 !== 3,
    validationErrors: null,
    failureReason: failed ? 'api_error' : null,
    finishedAt: at(2_000 + i),
  };
}

/** Everything stored for a request, with ids and server clocks left out, job ids made comparable. */
async function stored(jobId: string, as: string): Promise<unknown> {
  const strip = <T extends Record<string, unknown>>(rows: T[]) => JSON.parse(JSON.stringify(rows).replaceAll(jobId, as)) as T[];
  const [row] = await db.sql`select * from workflow_generations where job_id = ${jobId}`;
  const { created_at: _c, updated_at: _u, ...result } = row ?? {};
  const attempts = await db.sql`select * from generation_attempts where job_id = ${jobId} order by attempt_number`;
  const audits = await db.sql`select action, severity, user_id, agent_id, job_id, details from audit_logs where job_id = ${jobId} order by id`;
  return { result: strip([result])[0], attempts: strip(attempts.map(({ id: _id, ...a }) => a)), audits: strip([...audits]) };
}

const since = (n: number) => reports.slice(n).map((r) => `${r.write}:${r.report.written}:${r.report.size}`);

describe('begin and finish in batches', () => {
  it('30 requests begun and finished together: one statement each way, and every row is what the single statements write', async () => {
    const n = 30;
    const mark = reports.length;
    const ids = Array.from({ length: n }, (_, i) => `batch-a-${i}`);
    const begun = await Promise.all(ids.map((id, i) => batched.begin(beginInput(id, i))));
    const results = await Promise.all(ids.map((id, i) => batched.finish(outcome(id, i), i % 6 === 5 ? null : attempt(id, i))));
    expect(since(mark)).toEqual([`begin:batched:${n}`, `finish:batched:${n}`]);
    expect(begun.every((b) => b.fresh && b.final === null && b.attempts.length === 0)).toBe(true);

    for (let i = 0; i < n; i++) {
      const ref = `single-a-${i}`;
      await single.begin(beginInput(ref, i));
      const expected = await single.finish(outcome(ref, i), i % 6 === 5 ? null : attempt(ref, i));
      expect({ ...results[i], job_id: 'x' }).toEqual({ ...expected, job_id: 'x' });
      expect(await stored(ids[i]!, 'x')).toEqual(await stored(ref, 'x'));
    }
    const [counts] = await db.sql`select (select count(*)::int from audit_logs where job_id like 'batch-a-%') as audits, (select count(*)::int from generation_attempts where job_id like 'batch-a-%') as attempts`;
    expect(counts).toEqual({ audits: n, attempts: n - 5 });
  });

  it('a batch of begins answers each request for itself: fresh, resumed with its attempts, already finished', async () => {
    await single.begin(beginInput('mix-resumed', 1));
    await single.recordAttempt(attempt('mix-resumed', 1, 1, { outcome: 'timeout', httpStatus: null }));
    await single.recordAttempt(attempt('mix-resumed', 1, 2, { outcome: 'api_error', httpStatus: 500 }));
    await single.begin(beginInput('mix-finished', 2));
    const done = await single.finish(outcome('mix-finished', 2), attempt('mix-finished', 2));

    // A row written before any pick-up (no started_at): the batch's `picked` branch.
    await db.sql`insert into workflow_generations (job_id, request, enqueued_at) values ('mix-unpicked', '{}'::jsonb, ${at(0).toISOString()}::timestamptz)`;

    const mark = reports.length;
    const [fresh, resumed, finished, unpicked] = await Promise.all([
      batched.begin(beginInput('mix-fresh', 0)),
      batched.begin({ ...beginInput('mix-resumed', 1), startedAt: at(50_000) }),
      batched.begin(beginInput('mix-finished', 2)),
      batched.begin(beginInput('mix-unpicked', 3)),
    ]);
    expect(since(mark)).toEqual(['begin:batched:4']);
    expect(unpicked).toMatchObject({ fresh: false, final: null, attempts: [] });
    const [picked] = await db.sql`select started_at from workflow_generations where job_id = 'mix-unpicked'`;
    expect(new Date(picked!.started_at as string).toISOString()).toBe(at(103).toISOString());
    expect(fresh).toMatchObject({ fresh: true, final: null, attempts: [] });
    expect(resumed.fresh).toBe(false);
    expect(resumed.final).toBeNull();
    expect(resumed.attempts).toEqual([attempt('mix-resumed', 1, 1, { outcome: 'timeout', httpStatus: null }), attempt('mix-resumed', 1, 2, { outcome: 'api_error', httpStatus: 500 })]);
    expect(finished).toMatchObject({ fresh: false, final: done, attempts: [] });
    // First pick-up wins: the resumed request keeps its first started_at.
    const [row] = await db.sql`select started_at from workflow_generations where job_id = 'mix-resumed'`;
    expect(new Date(row!.started_at as string).toISOString()).toBe(at(101).toISOString());
  });

  it('a batch of finishes: a lost row fails alone, a request another run finished keeps that run, the rest are written', async () => {
    await single.begin(beginInput('fin-ok-1', 1));
    await single.begin(beginInput('fin-ok-2', 2));
    await single.begin(beginInput('fin-done', 3));
    const first = await single.finish(outcome('fin-done', 0), attempt('fin-done', 0));

    const mark = reports.length;
    const settled = await Promise.allSettled([
      batched.finish(outcome('fin-ok-1', 1), attempt('fin-ok-1', 1)),
      batched.finish(outcome('fin-lost', 2), attempt('fin-lost', 2)),
      batched.finish(outcome('fin-done', 3), attempt('fin-done', 3, 2)),
      batched.finish(outcome('fin-ok-2', 2), attempt('fin-ok-2', 2)),
    ]);
    expect(since(mark)).toEqual(['finish:batched:4']);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(RequestRowMissingError);
    expect((settled[2] as PromiseFulfilledResult<unknown>).value).toEqual(first);
    const audits = await db.sql`select job_id, count(*)::int as n from audit_logs where job_id like 'fin-%' group by job_id order by job_id`;
    expect(audits.map((a) => [a.job_id, a.n])).toEqual([['fin-done', 1], ['fin-ok-1', 1], ['fin-ok-2', 1]]);
    // Without its row nothing of the lost request is written, as with the single statement.
    const [lost] = await db.sql`select count(*)::int as n from generation_attempts where job_id = 'fin-lost'`;
    expect(lost!.n).toBe(0);
  });

  it('a value Postgres refuses fails only its own call: its batch-mates are written one by one', async () => {
    await Promise.all(['bad-1', 'bad-2', 'bad-3'].map((id, i) => single.begin(beginInput(id, i))));
    const mark = reports.length;
    const settled = await Promise.allSettled([
      batched.finish(outcome('bad-1', 1), attempt('bad-1', 1)),
      batched.finish(outcome('bad-2', 2), attempt('bad-2', 2, 2 ** 31)), // out of range for int
      batched.finish(outcome('bad-3', 3), attempt('bad-3', 3)),
    ]);
    expect(since(mark)).toEqual(['finish:one_by_one:3']);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((settled[1] as PromiseRejectedResult).reason as { code?: string }).code).toBe('22003'); // numeric_value_out_of_range
    const rows = await db.sql`select job_id, status from workflow_generations where job_id like 'bad-%' order by job_id`;
    expect(rows.map((r) => [r.job_id, r.status])).toEqual([['bad-1', 'succeeded'], ['bad-2', 'queued'], ['bad-3', 'invalid']]);
  });

  it('a call made while no batch is in flight goes out alone, on the single statement', async () => {
    const mark = reports.length;
    await batched.begin(beginInput('alone', 0));
    await batched.finish(outcome('alone', 0), attempt('alone', 0));
    expect(since(mark)).toEqual(['begin:single:1', 'finish:single:1']);
  });
});

describe('WriteBatcher', () => {
  it('never puts one key in a batch twice, keeps at most maxInFlight batches in flight, and answers every call with its own answer', async () => {
    const batches: string[][] = [];
    let inFlight = 0;
    let most = 0;
    const batcher = new WriteBatcher<{ key: string; n: number }, string>({
      maxBatch: 3,
      maxInFlight: 2,
      key: (i) => i.key,
      runOne: async (i) => `one:${i.key}${i.n}`,
      runBatch: async (items) => {
        batches.push(items.map((i) => `${i.key}${i.n}`));
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        return items.map((i) => `batch:${i.key}${i.n}`);
      },
    });
    const calls = [['a', 1], ['b', 1], ['a', 2], ['c', 1], ['d', 1], ['e', 1], ['a', 3], ['f', 1]] as const;
    const answers = await Promise.all(calls.map(([key, n]) => batcher.submit({ key, n })));
    expect(answers).toEqual(calls.map(([k, n]) => expect.stringMatching(new RegExp(`^(batch|one):${k}${n}$`))));
    expect(most).toBeLessThanOrEqual(2);
    for (const b of batches) expect(new Set(b.map((x) => x[0])).size).toBe(b.length);
    // The first two batches were formed from the calls in order, skipping a key already taken.
    expect(batches.slice(0, 2)).toEqual([['a1', 'b1', 'c1'], ['a2', 'd1', 'e1']]);
  });

  it('a batch lost to the connection fails every call with that error, without sending each again; a throwing metrics hook fails nothing', async () => {
    let ones = 0;
    const lost = Object.assign(new Error('connection lost'), { code: 'CONNECTION_ENDED' });
    const batcher = new WriteBatcher<string, string>({
      maxInFlight: 1,
      key: (k) => k,
      isTransient: (err) => err === lost,
      runOne: async (k) => {
        ones++;
        return k;
      },
      runBatch: async () => {
        throw lost;
      },
      onBatch: () => {
        throw new Error('metrics hook broke');
      },
    });
    const settled = await Promise.allSettled(['x', 'y', 'z'].map((k) => batcher.submit(k)));
    expect(settled.map((r) => (r.status === 'rejected' ? r.reason : r.value))).toEqual([lost, lost, lost]);
    expect(ones).toBe(0);
    expect(await batcher.submit('alone')).toBe('alone');
  });
});
