/**
 * The worker behind PgBouncer, set up as docs/operations.md says (Scaling, "Through PgBouncer"): the role
 * holds random_page_cost and search_path, the worker sends neither to PgBouncer's liking
 * (DATABASE_RANDOM_PAGE_COST=server, search_path listed in ignore_startup_parameters), and
 * session pooling keeps the statements it prepares. Debian 12's PgBouncer is 1.18, which has no
 * prepared statements under transaction pooling (1.21 and later do), so session pooling is what
 * is checked here.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectDatabase } from '../db/client.ts';
import { TEST_DATABASE_URL, uniqueName } from './helpers/database.ts';
import { goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { expectCleanLedger } from './helpers/ledger.ts';
import { type OwnPgBouncer, startPgBouncer } from './helpers/pgbouncer.ts';

let h: Harness;
let bouncer: OwnPgBouncer;
const role = uniqueName('pgbouncer role');

beforeAll(async () => {
  h = await startHarness('pgbouncer');
  // A role of the test's own, so the settings it holds reach no other test.
  await h.db.sql.unsafe(`create role "${role}" login superuser`);
  await h.db.sql.unsafe(`alter role "${role}" set search_path = "${h.db.schemaName}"`);
  await h.db.sql.unsafe(`alter role "${role}" set random_page_cost = 1.1`);
  bouncer = await startPgBouncer(new URL(TEST_DATABASE_URL), { poolMode: 'session', users: [role], ignoreStartupParameters: ['search_path'] });
});
afterAll(async () => {
  await h?.close();
  await bouncer?.stop();
  const admin = connectDatabase(TEST_DATABASE_URL, { maxConnections: 1 });
  await admin.sql.unsafe(`drop role if exists "${role}"`);
  await admin.close();
});

const throughBouncer = () => `postgres://${role}@127.0.0.1:${bouncer.port}/test`;

it('a session through PgBouncer gets the role\'s search_path and random_page_cost', async () => {
  const db = connectDatabase(throughBouncer(), { schemaName: h.db.schemaName, maxConnections: 1 });
  try {
    const [row] = await db.sql`select current_setting('search_path') as search_path, current_setting('random_page_cost') as cost, current_user as who`;
    expect(row).toEqual({ search_path: h.db.schemaName, cost: '1.1', who: role });
  } finally {
    await db.close();
  }
});

it('without search_path in ignore_startup_parameters, PgBouncer refuses the worker\'s connections, as docs/operations.md warns', async () => {
  const strict = await startPgBouncer(new URL(TEST_DATABASE_URL), { poolMode: 'session', users: [role] });
  const db = connectDatabase(`postgres://${role}@127.0.0.1:${strict.port}/test`, { schemaName: h.db.schemaName, maxConnections: 1 });
  try {
    await expect(db.sql`select 1`).rejects.toThrow(/unsupported startup parameter: search_path/);
  } finally {
    await db.close().catch(() => {});
    await strict.stop();
  }
});

it('the worker generates through PgBouncer in session pooling: results, hand-overs, one ledger entry each', async () => {
  await h.startWorker({ DATABASE_URL: throughBouncer(), DATABASE_RANDOM_PAGE_COST: 'server' });
  const request = (text: string, ...directives: string[]) => ({ userId: 'u', agentId: 'a', userGoal: goal(text, ...directives), availablePlugins: PLUGINS });
  const first = await h.client.generateWorkflow(request('Post new sheet rows to Slack'), { timeoutMs: 20_000 });
  expect(first).toMatchObject({ status: 'succeeded', generator_used: 'gpt-4o-mini' });
  // A hand-over: the statements of the fallback path too.
  const handedOver = await h.client.generateWorkflow(request('Summarise my inbox', 'gpt-4o-mini=schema'), { timeoutMs: 20_000 });
  expect(handedOver).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: 'schema' });
  // Enough at once that every pooled connection prepares and reuses the statements.
  const batch = await Promise.all(Array.from({ length: 30 }, (_, i) => h.client.generateWorkflow(request(`Digest ${i}`), { timeoutMs: 30_000 })));
  expect(batch.every((r) => r.status === 'succeeded')).toBe(true);
  const ids = [first.job_id, handedOver.job_id, ...batch.map((r) => r.job_id)];
  const byStatus = await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
  expect(byStatus).toEqual({ succeeded: ids.length });
  // The rows came through PgBouncer, as the role: it is the only way in for that role here.
  const [sessions] = await h.db.sql`select count(*)::int as n from pg_stat_activity where usename = ${role}`;
  expect(sessions!.n).toBeGreaterThan(0);
});
