/**
 * The on-call metrics on real Redis, Postgres and workers: the oldest waiting job's age (from the
 * producer and the workers alike), the queue wait of first pick-ups, and the settings and catalog
 * info series that the dashboard's annotations read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProducer } from '../producer/server.ts';
import { PRIMARY_QUEUE } from '../shared/jobs.ts';
import { catalogVersion } from '../worker/ops-metrics.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { producerPool } from './helpers/producer.ts';

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let producer: RunningProducer;

beforeAll(async () => {
  h = await startHarness('ops-metrics');
  pool = producerPool(h.env);
  producer = await pool.start();
});

afterAll(async () => {
  await pool?.closeAll();
  await h?.close();
});

/** One sample of a metric in a Prometheus exposition, by its exact label set text. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const producerMetrics = async () => (await fetch(`${producer.url}/metrics`)).text();

describe('queue age and wait', () => {
  it('the oldest waiting job ages while no worker runs, and first pick-ups record their wait', async () => {
    const ageSeries = `orchestrator_queue_oldest_waiting_age_seconds{queue="${PRIMARY_QUEUE}"}`;
    expect(sample(await producerMetrics(), ageSeries)).toBe(0);

    const enqueue = (i: number) => h.client.enqueue({ userId: 'u', agentId: `a${i}`, userGoal: goal(`Summarise my inbox (${i})`), availablePlugins: PLUGINS });
    const firstAt = Date.now();
    const ids = [await enqueue(0)];
    await eventually(async () => (sample(await producerMetrics(), ageSeries) ?? 0) >= 0.3, { what: 'the first job to be 0.3 s old' });
    // Newer jobs do not lower the figure: it is the oldest job's age, not the newest's.
    for (let i = 1; i < 5; i++) ids.push(await enqueue(i));
    const age = sample(await producerMetrics(), ageSeries)!;
    expect(age).toBeGreaterThanOrEqual(0.3);
    expect(age).toBeLessThanOrEqual((Date.now() - firstAt) / 1000 + 0.05);

    const worker = await h.startWorker();
    for (const id of ids) await h.client.waitForResult(id, { timeoutMs: 30_000 });
    const text = await worker.registry.metrics();
    expect(sample(text, `orchestrator_queue_wait_seconds_count{queue="${PRIMARY_QUEUE}"}`)).toBe(5);
    // The first job alone waited more than 0.3 s.
    expect(sample(text, `orchestrator_queue_wait_seconds_sum{queue="${PRIMARY_QUEUE}"}`)!).toBeGreaterThan(0.3);
    expect(sample(text, `orchestrator_queue_oldest_waiting_age_seconds{queue="${PRIMARY_QUEUE}"}`)).toBe(0);
    expect(sample(await producerMetrics(), ageSeries)).toBe(0);
  });
});

describe('settings and catalog info', () => {
  it('a worker exports the settings it applies, and a change shows as a new label set', async () => {
    const worker = await h.startWorker();
    const info = (primary: string, fallback: string, on: boolean) => `orchestrator_settings_info{primary_model="${primary}",fallback_model="${fallback}",enable_fallback="${on}"}`;
    expect(sample(await worker.registry.metrics(), info('gpt-4o-mini', 'claude-sonnet-4-6', true))).toBe(1);

    await h.db.settings.update({ primaryModel: 'claude-haiku-4-5', fallbackModel: 'gpt-4o', enableFallback: false }, 'test');
    const refreshes = worker.settings.refreshes;
    await eventually(async () => worker.settings.refreshes > refreshes + 1, { what: 'a settings refresh' });
    const text = await worker.registry.metrics();
    expect(sample(text, info('claude-haiku-4-5', 'gpt-4o', false))).toBe(1);
    expect(sample(text, info('gpt-4o-mini', 'claude-sonnet-4-6', true))).toBeUndefined();
    expect(sample(text, `orchestrator_catalog_info{catalog_version="${catalogVersion(worker.settings.current().catalog)}"}`)).toBe(1);
    expect(catalogVersion(worker.settings.current().catalog)).toMatch(/^[0-9a-f]{12}$/);
  });
});
