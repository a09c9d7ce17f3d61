/**
 * Requests accepted over HTTP whose jobs then vanish from Redis (what a failover to a replica that
 * never got them does), on real Redis and Postgres: the producer's row at acceptance answers the
 * status API, and the lost-request sweep puts each one back, or records it as failed, once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AcceptedRequestStore } from '../db/accepted-requests.ts';
import { DrizzleGenerationRepository } from '../db/generation-repository.ts';
import { createLogger } from '../shared/logger.ts';
import { REQUEST_FAILURE_REASONS } from '../shared/outcomes.ts';
import { systemClock } from '../worker/clock.ts';
import { GENERATE_FALLBACK_JOB, stepJobId } from '../shared/jobs.ts';
import { LostRequestSweep, queuedJobs } from '../worker/lost-request-sweep.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { expectCleanLedger } from './helpers/ledger.ts';
import { apiAuth, call, producerPool } from './helpers/producer.ts';

const SWEEP = { LOST_REQUEST_SWEEP_MS: '200', LOST_REQUEST_GRACE_MS: '1000' };
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
}, 60_000);

const request = (i: number, extra: Record<string, unknown> = {}) => ({ userId: `user-${i % 3}`, agentId: 'agent-1', userGoal: goal(`Summarise unread email to Slack, run ${i}`), availablePlugins: PLUGINS, ...extra });

async function setUp(label: string): Promise<{ h: Harness; api: string }> {
  const h = await startHarness(label, { env: SWEEP });
  const pool = producerPool(h.env);
  cleanups.push(() => h.close(), () => pool.closeAll());
  return { h, api: (await pool.start()).url };
}

async function accept(api: string, body: Record<string, unknown>): Promise<string> {
  const r = await call(api, 'POST', '/v1/generations', { headers: apiAuth, json: body });
  expect(r.status).toBe(202);
  return r.body.id as string;
}

const finals = (h: Harness, ids: string[]) =>
  h.db.sql<{ job_id: string; status: string; failure_reason: string | null; requeues: number }[]>`
    select job_id, status, failure_reason, requeues from workflow_generations where status <> 'queued' and job_id in ${h.db.sql(ids)}`;

describe('the lost-request sweep', () => {
  it('puts accepted requests whose jobs Redis lost back in the queue, from the stored request, and they complete', async () => {
    const { h, api } = await setUp('lost-requeue');
    // No worker yet: the requests are accepted and wait in the queue.
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => accept(api, request(i))));
    const rows = await h.db.sql<{ job_id: string; status: string; request: { userGoal: string } }[]>`select job_id, status, request from workflow_generations where job_id in ${h.db.sql(ids)}`;
    expect(rows.length, 'the producer wrote each accepted request before answering 202').toBe(12);
    expect(rows.every((r) => r.status === 'queued' && r.request.userGoal.includes('Summarise'))).toBe(true);

    // Redis loses the jobs, as a failover to a replica that never received them would.
    for (const id of ids) await h.rawQueue.remove(id);
    expect(await h.rawQueue.getJobState(ids[0]!)).toBe('unknown');
    // The status API still answers, from Postgres.
    const status = await call(api, 'GET', `/v1/generations/${ids[0]}`, { headers: apiAuth });
    expect(status.status).toBe(200);
    expect(status.body.status).toBe('queued');

    const worker = await h.startWorker();
    await eventually(async () => (await finals(h, ids)).length === ids.length, { timeoutMs: 30_000, what: 'the lost requests to be put back and finish' });
    const done = await finals(h, ids);
    expect(done.map((r) => `${r.status}/${r.requeues}`)).toEqual(ids.map(() => 'succeeded/1'));
    const requeued = await h.db.sql<{ job_id: string; details: { reason: string } }[]>`select job_id, details from audit_logs where action = 'WORKFLOW_GENERATION_REQUEUED' and job_id in ${h.db.sql(ids)}`;
    expect(requeued.length, 'one put-back audit row per lost request').toBe(ids.length);
    expect(requeued.every((r) => r.details.reason === REQUEST_FAILURE_REASONS.lostInQueue)).toBe(true);
    expect(await worker.registry.getSingleMetricAsString('orchestrator_lost_requests_total')).toContain('orchestrator_lost_requests_total{action="requeued"} 12');
    await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
  }, 60_000);

  it("a request whose only job left in Redis is a later ladder step's is BullMQ's, not lost", async () => {
    const { h, api } = await setUp('lost-later-step');
    const id = await accept(api, request(1));
    const jobs = queuedJobs(h.redis, h.rawQueue, h.fallbackQueue);
    expect(await jobs.has(id)).toBe(true);
    // The primary job removed (as removeOnComplete does, in time), step 3's job still queued.
    await h.rawQueue.remove(id);
    expect(await jobs.has(id)).toBe(false);
    await h.fallbackQueue.add(GENERATE_FALLBACK_JOB, { stand: 'in' }, { jobId: stepJobId(id, 3) });
    expect(await jobs.has(id)).toBe(true);
  }, 60_000);

  it('records a lost request past its deadline as failed (lost_in_queue) with one final audit row', async () => {
    const { h, api } = await setUp('lost-deadline');
    const id = await accept(api, request(1, { deadlineMs: 1_000 }));
    await h.rawQueue.remove(id);
    await new Promise((r) => setTimeout(r, 1_100)); // the request's own deadline, which is what is tested
    const worker = await h.startWorker();
    const [row] = await eventually(async () => ((await finals(h, [id])).length === 1 ? finals(h, [id]) : undefined), { timeoutMs: 20_000, what: 'the lost request to be recorded' });
    expect(row!.status).toBe('failed');
    expect(row!.failure_reason).toMatch(/^lost_in_queue: .*deadline had passed/);
    const status = await call(api, 'GET', `/v1/generations/${id}`, { headers: apiAuth });
    expect(status.body.status).toBe('failed');
    expect(status.body.result.failure_reason).toMatch(/^lost_in_queue/);
    expect(await worker.registry.getSingleMetricAsString('orchestrator_lost_requests_total')).toContain('orchestrator_lost_requests_total{action="failed"} 1');
    await expectCleanLedger(h.db, [id], [h.rawQueue, h.fallbackQueue]);
  }, 60_000);

  it('one sweep at a time, and a sweep racing a late worker still leaves one final row and one final audit row', async () => {
    const { h, api } = await setUp('lost-race');
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => accept(api, request(i, { deadlineMs: 1_000 }))));
    for (const id of ids) await h.rawQueue.remove(id);
    await new Promise((r) => setTimeout(r, 1_100)); // past the requests' deadline and the grace period
    const log = createLogger({ name: 'sweep', level: 'silent' });
    const repo = new DrizzleGenerationRepository(h.db.db);
    const store = new AcceptedRequestStore(h.db.db);
    const settings = { current: () => ({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true }) } as never;
    const sweep = () =>
      new LostRequestSweep({ store, repo, jobs: queuedJobs(h.redis, h.rawQueue, h.fallbackQueue), settings, onLost: () => {}, clock: systemClock, log }, { intervalMs: 1_000, graceMs: 1_000, maxRequeues: 3, defaultDeadlineMs: 60_000 });

    // While one process holds the lock, another's sweep does nothing.
    let inner: Awaited<ReturnType<LostRequestSweep['sweepOnce']>> | undefined;
    expect(await store.exclusively(async () => void (inner = await sweep().sweepOnce()))).toBe(true);
    expect(inner).toEqual({ ran: false, requeued: [], failed: [] });

    // Late workers finish half the requests while two sweeps record them as lost.
    const late = ids.slice(0, 10).map(async (jobId) => {
      await repo.begin({ jobId, userId: 'user-0', agentId: 'agent-1', request: {}, settings: { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true }, enqueuedAt: new Date(), startedAt: new Date() });
      return repo.finish(
        { jobId, userId: 'user-0', agentId: 'agent-1', status: 'succeeded', workflow: null, stepsGenerated: 0, generatorUsed: 'gpt-4o-mini', primaryModel: 'gpt-4o-mini', fallbackModel: null, fallbackReason: null, validationPassed: true, validationErrors: null, failureReason: null, finishedAt: new Date() },
        null,
      );
    });
    const [reports] = await Promise.all([Promise.all([sweep().sweepOnce(), sweep().sweepOnce()]), Promise.all(late)]);
    const recorded = reports.flatMap((r) => r.failed);
    expect(new Set(recorded).size, 'no request recorded twice').toBe(recorded.length);
    await eventually(async () => (await finals(h, ids)).length === ids.length || (await sweep().sweepOnce(), false), { timeoutMs: 10_000, what: 'every request final' });
    const byStatus = await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);
    expect((byStatus.failed ?? 0) + (byStatus.succeeded ?? 0)).toBe(ids.length);
    expect(byStatus.failed ?? 0).toBeGreaterThanOrEqual(10);
  }, 60_000);
});
