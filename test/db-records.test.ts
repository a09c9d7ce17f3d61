/**
 * One shape per record (db/rows/): the attempt's column list is the table's own, so every
 * column is written and read back without a hand-kept list, and what begin returns of a
 * request's attempts is what recordAttempt was given.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DrizzleGenerationRepository } from '../db/generation-repository.ts';
import { ATTEMPT_COLUMNS, type AttemptRecord } from '../db/rows/attempt.ts';
import { RESULT_COLUMNS } from '../db/rows/result.ts';
import { parseUsd } from '../shared/money.ts';
import { DEFAULT_SETTINGS } from '../shared/settings.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('records');
});
afterAll(async () => {
  await db?.drop();
});

async function columnsOf(table: string): Promise<string[]> {
  const rows = await db.sql<{ column_name: string }[]>`select column_name from information_schema.columns where table_schema = ${db.schemaName} and table_name = ${table} order by ordinal_position`;
  return rows.map((r) => r.column_name);
}

it('the attempt statements carry every column of generation_attempts; the result columns all exist', async () => {
  expect(Object.values(ATTEMPT_COLUMNS).map((c) => c.name).sort()).toEqual((await columnsOf('generation_attempts')).sort());
  const generations = await columnsOf('workflow_generations');
  expect(Object.values(RESULT_COLUMNS).map((c) => c.name).filter((c) => !generations.includes(c))).toEqual([]);
});

it('an attempt read back by begin is the attempt recorded, every field, to the picodollar', async () => {
  const repo = new DrizzleGenerationRepository(db.db);
  const at = new Date('2026-03-01T10:00:00.123Z');
  const input = { jobId: 'round-trip', userId: 'u', agentId: 'a', request: { userGoal: 'g' }, settings: DEFAULT_SETTINGS, enqueuedAt: at, startedAt: at };
  expect((await repo.begin(input)).fresh).toBe(true);
  const recorded: AttemptRecord = {
    jobId: 'round-trip',
    attemptNumber: 1,
    model: 'gpt-4o-mini',
    provider: 'openai',
    role: 'primary',
    outcome: 'schema',
    validationErrors: [{ path: '/workflow_steps/0', code: 'required', message: 'must have id' }],
    errorMessage: 'bad answer',
    httpStatus: 200,
    retryAfterMs: 1_500,
    usage: { inputTokens: 1_234, outputTokens: 567, cachedInputTokens: 128, cacheWriteTokens: 64 },
    cost: parseUsd('0.000123456789'),
    pricing: { inputPerMTok: '0.15', outputPerMTok: '0.6', cachedInputPerMTok: '0.075', cacheWritePerMTok: '0' } as AttemptRecord['pricing'],
    latencyMs: 812,
    settings: DEFAULT_SETTINGS,
    startedAt: new Date('2026-03-01T10:00:01.001Z'),
    finishedAt: new Date('2026-03-01T10:00:02.002Z'),
  };
  await repo.recordAttempt(recorded);
  const resumed = await repo.begin({ ...input, startedAt: new Date(at.getTime() + 5_000) });
  const { pricing: _pricing, ...withoutPricing } = recorded;
  expect(resumed.attempts).toEqual([withoutPricing]);
  const [prices] = await db.sql`select price_input_per_mtok::text as i, price_cache_write_per_mtok::text as w from generation_attempts where job_id = 'round-trip'`;
  expect(prices).toEqual({ i: '0.150000', w: '0.000000' });
});
