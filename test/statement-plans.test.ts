/**
 * The hot-path statements (db/statements/) reach their rows through the primary keys
 * at any table size, in the generic plans a prepared statement keeps per connection, when planned
 * as the worker's connections plan them: a plan made while the tables were small (and without
 * statistics) must not scan whole tables once they have grown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BEGIN, BEGIN_BATCH } from '../db/statements/begin.ts';
import { FINISH, FINISH_BATCH, FINISH_WITHOUT_ATTEMPT } from '../db/statements/finish.ts';
import { RECORD_ATTEMPT } from '../db/statements/record-attempt.ts';
import { RECORD_HANDOVER } from '../db/statements/record-handover.ts';
import { readWorkerConfig } from '../shared/config.ts';
import type { WorkerRuntime } from '../worker/runtime.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { startHarness } from './helpers/harness.ts';

const STATEMENTS = Object.fromEntries([BEGIN, BEGIN_BATCH, RECORD_ATTEMPT, RECORD_HANDOVER, FINISH, FINISH_WITHOUT_ATTEMPT, FINISH_BATCH].map((s) => [s.name, s.text]));
const TABLES = ['workflow_generations', 'generation_attempts', 'audit_logs'];
/** What a worker started with the default configuration plans with. */
const WORKER_PLANNER = { random_page_cost: readWorkerConfig({}).databaseRandomPageCost! };

let db: TestDatabase;
let rows = 0;

beforeAll(async () => {
  db = await createTestDatabase('statement plans');
});
afterAll(async () => {
  await db?.drop();
});

/** Requests with an attempt and a final audit row each, inserted without ANALYZE (as a new deployment has them). */
async function growTo(n: number): Promise<void> {
  if (n <= rows) return;
  const range = `generate_series(${rows}, ${n - 1}) s`;
  await db.sql.unsafe(`insert into workflow_generations (job_id, user_id, agent_id, request, settings, primary_model, status, workflow)
    select 'plan-' || s, 'u', 'a', '{"userGoal": "g"}'::jsonb, '{}'::jsonb, 'gpt-4o-mini', 'succeeded', '{"workflow_steps": []}'::jsonb from ${range}`);
  await db.sql.unsafe(`insert into generation_attempts (job_id, attempt_number, model, provider, role, outcome, input_tokens, output_tokens,
      cached_input_tokens, cache_write_tokens, cost_usd, latency_ms, settings, started_at, finished_at)
    select 'plan-' || s, 1, 'gpt-4o-mini', 'openai', 'primary', 'ok', 1000, 300, 0, 0, 0.0003, 800, '{}'::jsonb, now(), now() from ${range}`);
  await db.sql.unsafe(`insert into audit_logs (action, severity, user_id, agent_id, job_id, details)
    select 'WORKFLOW_GENERATED', 'info', 'u', 'a', 'plan-' || s, '{}'::jsonb from ${range}`);
  rows = n;
}

let probes = 0;

/** The generic plan of `sql`, prepared on one connection with the given session settings. */
async function genericPlan(sql: string, settings: Readonly<Record<string, string>>): Promise<string> {
  const params = Math.max(0, ...[...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  // A name per probe: a prepared statement outlives a failed transaction, and a failure here must
  // surface as itself, not as the next probe's "already exists".
  const name = `plan_probe_${++probes}`;
  const lines = await db.sql.begin(async (tx) => {
    await tx.unsafe('set local plan_cache_mode = force_generic_plan');
    for (const [setting, value] of Object.entries(settings)) await tx.unsafe(`select set_config($1, $2, true)`, [setting, value]);
    await tx.unsafe(`prepare ${name} as ${sql}`);
    const plan = await tx.unsafe(`explain execute ${name}(${Array.from({ length: params }, () => 'null').join(', ')})`);
    await tx.unsafe(`deallocate ${name}`);
    return plan;
  });
  return lines.map((l) => String(Object.values(l)[0])).join('\n');
}

function fullScans(plan: string): string[] {
  return TABLES.filter((t) => new RegExp(`Seq Scan on ${t}\\b`).test(plan));
}

describe('generic plans of the hot-path statements', () => {
  it('are made with the page cost a worker connects with, unless it is left to the server', async () => {
    const h = await startHarness('planner settings');
    try {
      const show = async (runtime: WorkerRuntime) => (await runtime.db.sql<{ random_page_cost: string }[]>`show random_page_cost`)[0]?.random_page_cost;
      const [server] = await db.sql<{ random_page_cost: string }[]>`show random_page_cost`;
      expect(await show(await h.startWorker())).toBe(WORKER_PLANNER.random_page_cost);
      expect(await show(await h.startWorker({ DATABASE_RANDOM_PAGE_COST: 'server' }))).toBe(server?.random_page_cost);
      expect(server?.random_page_cost).not.toBe(WORKER_PLANNER.random_page_cost);
    } finally {
      await h.close();
    }
  });
  it.each([0, 1_000, 10_000])('use the primary keys with %i requests stored', async (n) => {
    await growTo(n);
    for (const [name, sql] of Object.entries(STATEMENTS)) {
      expect({ name, fullScans: fullScans(await genericPlan(sql, WORKER_PLANNER)) }).toEqual({ name, fullScans: [] });
    }
  });
});
