/**
 * The seed's three monitoring queries, run verbatim against a run with known injected failures,
 * and the money: every stored cost equals tokens × catalog price, exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_COST_BY_GENERATOR, SEED_FALLBACK_RATE, SEED_VALIDATION_SUCCESS_RATE } from '../db/seed-queries.ts';
import { GenerationFailedError } from '../producer/client.ts';
import { MODEL_CATALOG } from '../shared/default-catalog.ts';
import { goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';

let h: Harness;

// 14 clean, 3 schema failures and 1 api_error on the primary (fallback succeeds), 1 invalid on
// both, 1 with no output from either: 19 WORKFLOW_GENERATED rows, 5 of them via the fallback.
const RUN: Array<{ directives: string[]; expect: 'succeeded' | 'invalid' | 'failed' }> = [
  ...Array.from({ length: 14 }, () => ({ directives: [], expect: 'succeeded' as const })),
  ...Array.from({ length: 3 }, () => ({ directives: ['gpt-4o-mini=schema'], expect: 'succeeded' as const })),
  { directives: ['gpt-4o-mini=server_error'], expect: 'succeeded' },
  { directives: ['gpt-4o-mini=semantic', 'claude-sonnet-4-6=schema'], expect: 'invalid' },
  { directives: ['gpt-4o-mini=server_error', 'claude-sonnet-4-6=server_error'], expect: 'failed' },
];

beforeAll(async () => {
  h = await startHarness('audit');
  await h.startWorker();
  const outcomes = await Promise.all(
    RUN.map((r, i) =>
      h.client
        .generateWorkflow({ userId: `u${i % 3}`, agentId: `a${i}`, userGoal: goal(`Workflow number ${i}: collect leads from email into a sheet`, ...r.directives), availablePlugins: PLUGINS }, { timeoutMs: 30_000 })
        .then((res) => res.status as string)
        .catch((e: unknown) => (e instanceof GenerationFailedError ? (e.code === 'GENERATION_INVALID' ? 'invalid' : 'failed') : `error: ${String(e)}`)),
    ),
  );
  expect(outcomes).toEqual(RUN.map((r) => r.expect));
});
afterAll(async () => {
  await h?.close();
});

describe("the seed's monitoring queries, verbatim", () => {
  it('fallback rate: 5 of 19 generated workflows came from the fallback', async () => {
    const [row] = await h.db.sql.unsafe(SEED_FALLBACK_RATE);
    expect(Number(row!.total_workflows)).toBe(19);
    expect(Number(row!.fallback_percentage)).toBeCloseTo((5 * 100) / 19, 10);
  });

  it('cost by generator: counts and sums match the result rows', async () => {
    const rows = await h.db.sql.unsafe(SEED_COST_BY_GENERATOR);
    const byGen = Object.fromEntries(rows.map((r) => [r.generator as string, r]));
    expect(Object.keys(byGen).sort()).toEqual(['claude-sonnet-4-6', 'gpt-4o-mini']);
    expect(Number(byGen['gpt-4o-mini']!.workflows_generated)).toBe(14);
    expect(Number(byGen['claude-sonnet-4-6']!.workflows_generated)).toBe(5);
    const truth = await h.db.sql`
      select generator_used, sum(cost_usd)::text as total
      from workflow_generations where status in ('succeeded', 'invalid') group by generator_used`;
    for (const t of truth) {
      // Exact decimal equality, compared as text after normalising scale in Postgres.
      const [eq] = await h.db.sql`select ${byGen[t.generator_used as string]!.total_cost as string}::numeric = ${t.total as string}::numeric as same`;
      expect(eq!.same).toBe(true);
    }
  });

  it('validation success rate: 100% for the primary, 4 of 5 for the fallback', async () => {
    const rows = await h.db.sql.unsafe(SEED_VALIDATION_SUCCESS_RATE);
    const rate = Object.fromEntries(rows.map((r) => [r.generator as string, Number(r.validation_success_rate)]));
    expect(rate['gpt-4o-mini']).toBe(100);
    expect(rate['claude-sonnet-4-6']).toBe(80);
  });

  it('the per-attempt pass rate (every attempt, failed ones included) comes from model_attempt_stats_7d', async () => {
    const rows = await h.db.sql`select model, role, attempts, answered, passed, validation_pass_rate::float8 as rate from model_attempt_stats_7d order by model, role`;
    const primary = rows.find((r) => r.model === 'gpt-4o-mini' && r.role === 'primary')!;
    // 20 primary calls: 18 answered (2 api errors), 14 passed + 0 of the 4 bad answers.
    expect(primary).toMatchObject({ attempts: 20, answered: 18, passed: 14 });
    expect(primary.rate).toBeCloseTo((14 * 100) / 18, 2);
    const fallback = rows.find((r) => r.model === 'claude-sonnet-4-6' && r.role === 'fallback')!;
    // 6 requests handed over: 4 ok, 1 invalid, 1 with three api errors.
    expect(fallback).toMatchObject({ attempts: 8, answered: 5, passed: 4 });
  });
});

describe('money', () => {
  it('every attempt costs exactly its tokens × the catalog prices (computed independently in Postgres numeric)', async () => {
    const prices = MODEL_CATALOG.map((m) => `('${m.id}', ${m.pricing.inputPerMTok}::numeric, ${m.pricing.outputPerMTok}::numeric, ${m.pricing.cachedInputPerMTok}::numeric, ${m.pricing.cacheWritePerMTok}::numeric)`).join(',');
    const mismatches = await h.db.sql.unsafe(`
      with price(model, i, o, c, w) as (values ${prices})
      select a.job_id, a.attempt_number, a.cost_usd::text, ((a.input_tokens * p.i + a.output_tokens * p.o + a.cached_input_tokens * p.c + a.cache_write_tokens * p.w) / 1000000)::text as expected
      from generation_attempts a join price p using (model)
      where a.cost_usd <> (a.input_tokens * p.i + a.output_tokens * p.o + a.cached_input_tokens * p.c + a.cache_write_tokens * p.w) / 1000000`);
    expect(mismatches).toEqual([]);
    const [count] = await h.db.sql`select count(*)::int as n, count(*) filter (where cost_usd > 0)::int as priced from generation_attempts`;
    expect(count!.n).toBe(28);
    expect(count!.priced).toBeGreaterThan(20);
  });

  it('each result row and its final audit row carry the exact sum of its attempts, to the micro-dollar and beyond', async () => {
    const bad = await h.db.sql`
      select g.job_id, g.cost_usd::text as stored, s.total::text as attempts_total, (l.details->>'cost_usd') as audited
      from workflow_generations g
      join (select job_id, sum(cost_usd) as total from generation_attempts group by job_id) s using (job_id)
      join audit_logs l on l.job_id = g.job_id and l.action in ('WORKFLOW_GENERATED', 'WORKFLOW_GENERATION_FAILED')
      where g.cost_usd <> s.total or (l.details->>'cost_usd')::numeric <> s.total`;
    expect(bad).toEqual([]);
    const [typical] = await h.db.sql`
      select (select avg(cost_usd) from workflow_generations where generator_used = 'gpt-4o-mini' and fallback_reason is null)::float8 as mini,
             (select avg(cost_usd) from generation_attempts where model = 'claude-sonnet-4-6' and outcome = 'ok')::float8 as sonnet`;
    // The simulator's usage lands near the seed's figures: ~$0.001 and ~$0.03 a workflow.
    expect(typical!.mini).toBeGreaterThan(0.0004);
    expect(typical!.mini).toBeLessThan(0.0025);
    expect(typical!.sonnet).toBeGreaterThan(0.012);
    expect(typical!.sonnet).toBeLessThan(0.06);
  });

  it('exactly one result row and one final audit row per request', async () => {
    const [r] = await h.db.sql`
      select (select count(*) from workflow_generations)::int as results,
             (select count(*) from audit_logs where action in ('WORKFLOW_GENERATED', 'WORKFLOW_GENERATION_FAILED', 'WORKFLOW_GENERATION_REJECTED'))::int as finals,
             (select count(distinct job_id) from audit_logs where action in ('WORKFLOW_GENERATED', 'WORKFLOW_GENERATION_FAILED', 'WORKFLOW_GENERATION_REJECTED'))::int as distinct_finals,
             (select count(*) from audit_logs where action = 'WORKFLOW_GENERATION_FALLBACK')::int as fallbacks`;
    expect(r).toEqual({ results: 20, finals: 20, distinct_finals: 20, fallbacks: 6 });
  });
});
