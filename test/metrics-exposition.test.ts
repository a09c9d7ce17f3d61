/**
 * What the worker and the producer serve on /metrics passes `promtool check metrics` (Node's three
 * `nodejs_active_*_total` gauges excepted), labels come from closed sets, and the metric table in
 * docs/operations.md lists exactly the metrics the code defines. The live endpoints of real
 * worker and producer processes are checked again in compose-e2e.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { registerOldestWaitingAge, type WaitingJobsSource } from '../shared/queue-age.ts';
import { DEFAULT_SETTINGS, resolveSettings } from '../shared/settings.ts';
import { createOperationsMetrics } from '../worker/ops-metrics.ts';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG } from '../shared/default-catalog.ts';
import { createProducerMetrics, instrumentHttp } from '../producer/metrics.ts';
import { findModel } from '../shared/default-catalog.ts';
import { ATTEMPT_OUTCOMES, ATTEMPT_ROLES } from '../shared/outcomes.ts';
import type { AttemptResult } from '../worker/attempt-runner.ts';
import { createWorkerMetrics, QUEUE_STATES, type QueueDepthSource } from '../worker/metrics.ts';
import { PROJECT_ROOT } from './helpers/processes.ts';
import { promtoolLintMetrics, TOLERATED_LINT } from './helpers/prometheus.ts';

const waiting = (name: string): WaitingJobsSource => ({
  name,
  async getJobs() {
    return [{ timestamp: 4_000 }];
  },
});
const queue = (name: string): QueueDepthSource => ({
  name,
  async getJobCounts(...states: string[]) {
    return Object.fromEntries(states.map((s, i) => [s, i]));
  },
});

function attempt(modelId: string, outcome: AttemptResult['outcome']): AttemptResult {
  const model = findModel(modelId)!;
  const answered = !['rate_limit', 'timeout', 'api_error', 'auth_error'].includes(outcome);
  return {
    model,
    outcome,
    workflow: null,
    stepCount: 0,
    validationErrors: null,
    errorMessage: null,
    httpStatus: answered ? 200 : outcome === 'rate_limit' ? 429 : 500,
    retryAfterMs: null,
    usage: { inputTokens: 1200, outputTokens: 300, cachedInputTokens: 100, cacheWriteTokens: 50 },
    cost: 123_456_789n as AttemptResult['cost'],
    latencyMs: 850,
    startedAt: new Date(),
    finishedAt: new Date(),
    aborted: false,
  };
}

/** A worker registry as a process serves it, with every label combination exercised. */
function workerRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = createWorkerMetrics(registry, [queue('workflow-generation'), queue('workflow-generation-fallback')]);
  for (const role of ATTEMPT_ROLES) for (const outcome of ATTEMPT_OUTCOMES) m.recordAttempt(role, attempt(role === 'primary' ? 'gpt-4o-mini' : 'claude-sonnet-4-6', outcome));
  m.recordFallback('gpt-4o-mini', 'claude-sonnet-4-6', 'schema');
  m.recordFallback('gpt-4o-mini', 'claude-sonnet-4-6', 'rate_limit');
  m.recordFinal('succeeded', 'gpt-4o-mini', 'primary', 900);
  m.recordFinal('invalid', 'claude-sonnet-4-6', 'fallback', 4200);
  m.recordFinal('failed', null, 'fallback', 9000);
  m.recordFinal('rejected', null, 'none', null);
  m.recordPause('gpt-4o-mini');
  for (const write of ['begin', 'finish'] as const) for (const written of ['single', 'batched', 'one_by_one'] as const) m.recordWriteBatch(write, { size: written === 'single' ? 1 : 7, written });
  const ops = createOperationsMetrics(registry, { current: () => resolveSettings(DEFAULT_SETTINGS, DEFAULT_CATALOG) });
  ops.observePickUp('workflow-generation', { timestamp: 1_000, processedOn: 1_040, attemptsStarted: 1 });
  registerOldestWaitingAge(registry, [waiting('workflow-generation'), waiting('workflow-generation-fallback')], () => 10_000);
  return registry;
}

async function producerRegistry(): Promise<Registry> {
  const metrics = createProducerMetrics({ queues: [queue('workflow-generation'), queue('workflow-generation-fallback')], processMetrics: true });
  const app = Fastify();
  instrumentHttp(app, metrics.registry);
  app.get('/v1/generations/:id', async () => ({ ok: true }));
  await app.inject({ method: 'GET', url: '/v1/generations/abc' });
  await app.inject({ method: 'GET', url: '/no/such/route' });
  metrics.observeEnqueue(0.004, 'ok');
  metrics.observeEnqueue(0.2, 'error');
  await app.close();
  return metrics.registry;
}

/** Label names that would grow with users, agents or jobs. */
const UNBOUNDED_LABEL = /(^|_)(user|agent|job|request|trace|session)(_?id)?$|^id$|^url$|^path$|goal|prompt/i;

describe('metrics exposition', () => {
  it('the worker exposition passes promtool check metrics', async () => {
    const text = await workerRegistry().metrics();
    expect(text).toContain('orchestrator_workflow_requests_total{');
    expect(text).toContain('orchestrator_queue_jobs{queue="workflow-generation",state="waiting"}');
    expect(await promtoolLintMetrics(text)).toEqual([]);
  });

  it('the producer exposition passes promtool check metrics', async () => {
    const text = await (await producerRegistry()).metrics();
    expect(text).toContain('orchestrator_http_requests_total{route="/v1/generations/:id",method="GET",status="200"}');
    expect(text).toContain('route="unmatched"');
    expect(await promtoolLintMetrics(text)).toEqual([]);
  });

  it('only the three tolerated Node gauges trip promtool (the exception is no wider than that)', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const gaugesNamedTotal = (await registry.metrics())
      .split('\n')
      .filter((l) => /^# TYPE \S+_total gauge$/.test(l))
      .map((l) => l.split(' ')[2]!)
      .sort();
    expect(gaugesNamedTotal).toEqual(['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']);
    expect(TOLERATED_LINT.test('nodejs_active_handles_total non-counter metrics should not have "_total" suffix')).toBe(true);
    expect(TOLERATED_LINT.test('orchestrator_queue_jobs_total non-counter metrics should not have "_total" suffix')).toBe(false);
  });

  it('labels come from closed sets: no user, agent, job or request ids, no URLs', async () => {
    const metrics = [...workerRegistry().getMetricsAsArray(), ...(await producerRegistry()).getMetricsAsArray()];
    for (const m of metrics) {
      const labels = (m as unknown as { labelNames?: string[] }).labelNames ?? [];
      for (const l of labels) expect(UNBOUNDED_LABEL.test(l), `${m.name}{${l}}`).toBe(false);
    }
  });

  it('queue depth counts every state of every queue, so max by (queue, state) sees the same series everywhere', async () => {
    const json = await workerRegistry().getMetricsAsJSON();
    const depth = json.find((m) => m.name === 'orchestrator_queue_jobs')!;
    expect(depth.values).toHaveLength(2 * QUEUE_STATES.length);
  });

  it('the fallback-rate counters exist at zero before the first request, so increase() counts the first one', async () => {
    const registry = new Registry();
    createWorkerMetrics(registry, []);
    const json = await registry.getMetricsAsJSON();
    const requests = json.find((m) => m.name === 'orchestrator_workflow_requests_total')!;
    const has = (labels: Record<string, string>) => requests.values.some((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val) && v.value === 0);
    expect(has({ outcome: 'succeeded', generator: 'gpt-4o-mini', via: 'primary' })).toBe(true);
    expect(has({ outcome: 'succeeded', generator: 'claude-sonnet-4-6', via: 'fallback' })).toBe(true);
    expect(has({ outcome: 'invalid', generator: 'claude-sonnet-4-6', via: 'fallback' })).toBe(true);
    expect(has({ outcome: 'failed', generator: 'none', via: 'fallback' })).toBe(true);
    expect(has({ outcome: 'rejected', generator: 'none', via: 'none' })).toBe(true);
  });

  it('docs/operations.md has a row for every metric, with its type and labels', async () => {
    // The metric table lives in docs/operations.md's Observability section (other tables name settings).
    const readme = readFileSync(join(PROJECT_ROOT, 'docs/operations.md'), 'utf8');
    const start = readme.indexOf('\n## Observability');
    const doc = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const rows = new Map<string, string>();
    for (const line of doc.split('\n')) {
      const m = /^\|\s*`([a-z_:]+)`\s*\|(.*)$/.exec(line);
      if (m) rows.set(m[1]!, m[2]!);
    }
    const seen = new Set<string>();
    for (const m of [...workerRegistry().getMetricsAsArray(), ...(await producerRegistry()).getMetricsAsArray()]) {
      if (!m.name.startsWith('orchestrator_') || seen.has(m.name)) continue;
      seen.add(m.name);
      const row = rows.get(m.name);
      expect(row, `docs/operations.md lacks ${m.name}`).toBeDefined();
      const type = (m as unknown as { type: string }).type;
      expect(row, m.name).toContain(type);
      for (const l of (m as unknown as { labelNames: string[] }).labelNames) expect(row, `${m.name} label ${l}`).toContain(`\`${l}\``);
    }
    const documented = [...rows.keys()].filter((n) => n.startsWith('orchestrator_'));
    expect(documented.filter((n) => !seen.has(n)), 'documented metrics that no longer exist').toEqual([]);
  });
});
