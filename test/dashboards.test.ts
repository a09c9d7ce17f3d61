/**
 * The Grafana dashboards as code: the committed JSON is what `npm run dashboards` generates,
 * every query parses (Lezer and Prometheus' own parser through promtool), every metric it reads
 * is one the worker or producer exports, and the provisioning files agree with the dashboards.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { DATASOURCE_UID, OVERVIEW_UID } from '../dashboards/overview.js';
import { DASHBOARD_DIR, renderDashboards } from '../dashboards/render.js';
import { createProducerMetrics, instrumentHttp } from '../producer/metrics.js';
import { ResponseBudget } from '../worker/llm/node-http-fetch.js';
import { createWorkerMetrics } from '../worker/metrics.js';
import { PROJECT_ROOT } from './helpers/processes.js';
import { run } from './helpers/prometheus.js';
import { dashboardPanels, dashboardQueries, metricNames, readRules, selectorsNotUnderMax, substituteGrafanaVariables, syntaxErrors } from './helpers/promql.js';

/** Every series name the processes export, histogram series included, plus Prometheus' own `up`. */
function exportedSeriesNames(): Set<string> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const budget = new ResponseBudget(1);
  createWorkerMetrics(registry, [], { buffered: () => budget.stats() });
  const producer = createProducerMetrics({ queues: [], processMetrics: false });
  instrumentHttp(Fastify(), producer.registry);
  const names = new Set(['up']);
  for (const m of [...registry.getMetricsAsArray(), ...producer.registry.getMetricsAsArray()]) {
    names.add(m.name);
    if ((m as unknown as { type?: string }).type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  for (const { rule } of readRules()) if (rule.record) names.add(rule.record);
  return names;
}

describe('overview dashboard', () => {
  it('committed JSON is exactly what `npm run dashboards` generates', () => {
    for (const [file, text] of renderDashboards()) {
      const committed = readFileSync(join(DASHBOARD_DIR, file), 'utf8');
      expect(committed, `${file} is stale: run npm run dashboards`).toBe(text);
    }
  });

  it('has the panels operators asked for, each with a description and the provisioned datasource', () => {
    const panels = dashboardPanels().filter((p) => p.dashboard === OVERVIEW_UID);
    const titles = panels.map((p) => p.panel.title ?? '');
    for (const wanted of [
      /^Requests per second by outcome$/,
      /^Fallback rate vs 5% target$/,
      /^Validation pass rate per model vs 95%$/,
      /^Fallback reasons$/,
      /^Spend per hour by model$/,
      /^Cost per successful workflow$/,
      /^Savings vs sending everything to/,
      /^Model attempt latency p50 \/ p95 \/ p99$/,
      /^Queue depth by state$/,
      /^Active workers/,
      /^Rate-limit pauses/,
      /^Days until the configured models retire$/,
      /^Resident memory$/,
      /^Event loop lag p99$/,
      /^HTTP requests per second/,
    ]) {
      expect(titles.some((t) => wanted.test(t)), `no panel titled ${wanted}`).toBe(true);
    }
    expect(new Set(titles).size).toBe(titles.length);
    for (const { panel } of panels) expect((panel as { description?: string }).description, panel.title).toBeTruthy();
    for (const q of dashboardQueries()) expect(q.datasourceUid, `${q.panel}/${q.refId}`).toBe(DATASOURCE_UID);
    // Panel ids are unique: Grafana links and alerts refer to them.
    const ids = dashboardPanels().map((p) => (p.panel as { id?: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every query parses as PromQL (Lezer grammar)', () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(20);
    for (const q of queries) expect(syntaxErrors(substituteGrafanaVariables(q.expr)), `${q.panel}: ${q.expr}`).toEqual([]);
  });

  it('every query parses with Prometheus itself (as rules through promtool check rules)', async () => {
    const rules = dashboardQueries().map((q, i) => ({ record: `dashboard:query_${i}`, expr: substituteGrafanaVariables(q.expr) }));
    const dir = await mkdtemp(join(tmpdir(), 'dash-rules-'));
    try {
      const file = join(dir, 'dashboard-queries.yml');
      await writeFile(file, YAML.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = await run('promtool', ['check', 'rules', file]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads only metrics the worker or the producer export (or recording rules)', () => {
    const known = exportedSeriesNames();
    const used = new Set<string>();
    for (const q of dashboardQueries()) for (const n of metricNames(substituteGrafanaVariables(q.expr))) used.add(n);
    for (const { rule } of readRules()) for (const n of metricNames(rule.expr)) used.add(n);
    const unknown = [...used].filter((n) => !known.has(n));
    expect(unknown).toEqual([]);
    // And the ones that matter most are read somewhere.
    for (const n of ['orchestrator_workflow_requests_total', 'orchestrator_fallbacks_total', 'orchestrator_model_cost_usd_total', 'orchestrator_queue_jobs', 'orchestrator_http_requests_total', 'orchestrator_enqueue_duration_seconds_bucket'])
      expect(used.has(n), n).toBe(true);
  });

  it('reads queue depth with max by (queue, state), never a sum over replicas and producers', () => {
    const exprs = [...dashboardQueries().map((q) => q.expr), ...readRules().map((r) => r.rule.expr)];
    const reading = exprs.filter((e) => e.includes('orchestrator_queue_jobs'));
    expect(reading.length).toBeGreaterThan(0);
    for (const e of reading) expect(selectorsNotUnderMax(substituteGrafanaVariables(e), 'orchestrator_queue_jobs'), e).toEqual([]);
  });

  it('provisioning: the datasource has the fixed uid, the dashboards folder is where compose mounts the JSON', () => {
    const ds = YAML.parse(readFileSync(join(PROJECT_ROOT, 'dashboards/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: Array<{ uid: string; type: string; url: string }> };
    expect(ds.datasources).toEqual([expect.objectContaining({ uid: DATASOURCE_UID, type: 'prometheus', url: 'http://prometheus:9090' })]);
    const providers = YAML.parse(readFileSync(join(PROJECT_ROOT, 'dashboards/grafana/provisioning/dashboards/orchestrator.yml'), 'utf8')) as { providers: Array<{ type: string; options: { path: string } }> };
    const compose = YAML.parse(readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { volumes?: string[] }> };
    const mounts = compose.services.grafana!.volumes ?? [];
    expect(mounts).toContain(`./dashboards/grafana/dashboards:${providers.providers[0]!.options.path}:ro`);
    expect(mounts).toContain('./dashboards/grafana/provisioning:/etc/grafana/provisioning:ro');
  });
});
