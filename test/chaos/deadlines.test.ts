/**
 * Requests outlive provider outages: both vendors fail every call for 60 s in the middle of a
 * run, and every request still succeeds once they are back, waiting in BullMQ's delayed set
 * meanwhile, with an exact ledger; a request whose deadline is shorter than the outage ends as
 * deadline_exceeded at its deadline, every attempt recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, goal, type Harness, PLUGINS, startHarness } from '../helpers/harness.ts';
import { expectCleanLedger } from '../helpers/ledger.ts';

const OUTAGE_MS = 60_000;
const SHORT_DEADLINE_MS = 5_000;

let h: Harness;

beforeAll(async () => {
  h = await startHarness('deadlines', {
    env: { FINAL_MODEL_MAX_ATTEMPTS: '0', RETRY_BASE_DELAY_MS: '250', RETRY_MAX_DELAY_MS: '3000', REQUEST_DEADLINE_MS: '240000' },
  });
  await h.startWorker();
});
afterAll(async () => {
  h?.sim.setFaults({});
  await h?.close();
});

const enqueue = (label: string, i: number, deadlineMs?: number) =>
  h.client.enqueue({ userId: 'u', agentId: `a${i}`, userGoal: goal(`${label} ${i}`), availablePlugins: PLUGINS, ...(deadlineMs ? { deadlineMs } : {}) });

const ms = (t: unknown) => new Date(t as string).getTime();

describe('a 60 s outage of both vendors', () => {
  it('fails nothing: every request succeeds after it, the ledger exact; a shorter deadline ends deadline_exceeded on time', async () => {
    h.sim.resetStats();
    const before = await Promise.all(Array.from({ length: 5 }, (_, i) => enqueue('Before the outage', i)));
    await Promise.all(before.map((id) => h.client.waitForResult(id, { timeoutMs: 30_000 })));

    // Every call fails as a vendor in trouble does: 500 from OpenAI, 529 overloaded from Anthropic.
    h.sim.setFaults({ 'gpt-4o-mini': { server_error: 1 }, 'claude-sonnet-4-6': { overloaded: 1 } });
    const outageEnds = Date.now() + OUTAGE_MS;
    const lift = setTimeout(() => h.sim.setFaults({}), OUTAGE_MS);
    try {
      const short = await enqueue('Short deadline', 0, SHORT_DEADLINE_MS);
      const during = await Promise.all(Array.from({ length: 20 }, (_, i) => enqueue('During the outage', i)));

      // They wait out the outage in the delayed set, not in a worker slot.
      await eventually(async () => ((await h.fallbackQueue.getJobCounts('delayed')).delayed ?? 0) >= 15, { timeoutMs: 20_000, what: 'jobs waiting in the delayed set' });
      expect(Date.now()).toBeLessThan(outageEnds);

      const shortResult = await h.client.waitForResult(short, { timeoutMs: 20_000 }).catch((err: { result?: unknown }) => err.result);
      expect(shortResult).toMatchObject({ status: 'failed' });
      const [row] = await h.db.sql`select enqueued_at, finished_at, failure_reason, attempts from workflow_generations where job_id = ${short}`;
      expect(row!.failure_reason).toMatch(/^deadline_exceeded: /);
      expect(row!.attempts).toBeGreaterThanOrEqual(2);
      const late = ms(row!.finished_at) - ms(row!.enqueued_at) - SHORT_DEADLINE_MS;
      expect(late, 'ends at its deadline, not before').toBeGreaterThanOrEqual(0);
      expect(late, 'and not long after').toBeLessThan(2_500);

      const results = await Promise.all(during.map((id) => h.client.waitForResult(id, { timeoutMs: OUTAGE_MS + 60_000 })));
      expect(results.every((r) => r.status === 'succeeded')).toBe(true);
      const finished = await h.db.sql`select min(finished_at) as first from workflow_generations where job_id in ${h.db.sql(during)}`;
      expect(ms(finished[0]!.first)).toBeGreaterThanOrEqual(outageEnds - 100);

      const ids = [...before, short, ...during];
      const byStatus = await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
      expect(byStatus).toEqual({ succeeded: 25, failed: 1 });
      // Every call the simulator answered is one attempt row; failed ones cost nothing.
      const calls = Object.values(h.sim.stats().byModel).reduce((n, byOutcome) => n + Object.values(byOutcome).reduce((a, b) => a + (b ?? 0), 0), 0);
      const [counts] = await h.db.sql`select count(*)::int as n, count(*) filter (where outcome = 'api_error' and cost_usd > 0)::int as paid_failures from generation_attempts where job_id in ${h.db.sql(ids)}`;
      expect(counts!.n).toBe(calls);
      expect(counts!.paid_failures).toBe(0);
    } finally {
      clearTimeout(lift);
      h.sim.setFaults({});
    }
  }, 180_000);
});
