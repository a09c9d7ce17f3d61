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
import { DEFAULT_CATALOG } from '../shared/default-catalog.ts';
import YAML from 'yaml';
import { DATASOURCE_UID, DATASOURCE_VARIABLE, EXPORTER_METRICS, OVERVIEW_UID } from '../dashboards/overview.ts';
import { DASHBOARD_DIR, renderDashboards } from '../dashboards/render.ts';
import { createProducerMetrics, instrumentHttp } from '../producer/metrics.ts';
import { createWorkerMetrics } from '../worker/metrics.ts';
import { createOperationsMetrics } from '../worker/ops-metrics.ts';
import { registerOldestWaitingAge } from '../shared/queue-age.ts';
import { resolveSettings, DEFAULT_SETTINGS } from '../shared/settings.ts';
import GithubSlugger from 'github-slugger';
import MarkdownIt from 'markdown-it';
import { PROJECT_ROOT } from './helpers/processes.ts';
import { run } from './helpers/prometheus.ts';
import { dashboardPanels, dashboardQueries, metricNames, readDashboards, readRules, selectorsNotUnderMax, substituteGrafanaVariables, syntaxErrors } from './helpers/promql.ts';

/** Every series name the processes export, histogram series included, plus Prometheus' own `up`. */
function exportedSeriesNames(): Set<string> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  createWorkerMetrics(registry, []);
  createOperationsMetrics(registry, { current: () => resolveSettings(DEFAULT_SETTINGS, DEFAULT_CATALOG) });
  registerOldestWaitingAge(registry, []);
  const producer = createProducerMetrics({ queues: [], processMetrics: false });
  instrumentHttp(Fastify(), producer.registry);
  // Prometheus' own series: scrape health and the state of its alerting rules.
  const names = new Set<string>(['up', 'ALERTS']);
  // The exporters' series (test/compose-e2e.test.ts runs them and checks every panel gets data).
  for (const n of EXPORTER_METRICS) names.add(n);
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
      /^Oldest waiting job$/,
      /^Oldest waiting job age$/,
      /^Queue wait p50 \/ p95$/,
      /^Failed ratio$/,
      /^Alert state$/,
      /^Alerts firing$/,
    ]) {
      expect(titles.some((t) => wanted.test(t)), `no panel titled ${wanted}`).toBe(true);
    }
    expect(new Set(titles).size).toBe(titles.length);
    for (const { panel } of panels) expect((panel as { description?: string }).description, panel.title).toBeTruthy();
    for (const q of dashboardQueries()) expect(q.datasourceUid, `${q.panel}/${q.refId}`).toBe(DATASOURCE_VARIABLE);
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

  it('every metric the processes export is on a panel (or in a rule a panel reads)', () => {
    const used = new Set<string>();
    for (const q of dashboardQueries()) for (const n of metricNames(substituteGrafanaVariables(q.expr))) used.add(n.replace(/_(bucket|sum|count)$/, ''));
    const exported = [...exportedSeriesNames()].filter((n) => n.startsWith('orchestrator_') && !/_(bucket|sum|count)$/.test(n));
    // Info metrics drive the annotations, not panels.
    const annotationOnly = new Set(['orchestrator_settings_info', 'orchestrator_catalog_info']);
    expect(exported.filter((n) => !used.has(n) && !annotationOnly.has(n))).toEqual([]);
  });

  it('has a datasource variable (the provisioned one by default) and model and instance variables read from label values', () => {
    const json = readDashboards().find((d) => d.json.uid === OVERVIEW_UID)!.json as unknown as {
      templating: { list: Array<{ name: string; type: string; query?: unknown; current?: { value?: unknown }; datasource?: { uid?: string } }> };
    };
    const byName = new Map(json.templating.list.map((v) => [v.name, v]));
    expect(byName.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus', current: { value: DATASOURCE_UID } });
    const known = exportedSeriesNames();
    for (const [name, label] of [['model', 'model'], ['instance', 'instance']] as const) {
      const v = byName.get(name)!;
      expect(v, name).toMatchObject({ type: 'query', datasource: { uid: DATASOURCE_VARIABLE } });
      const m = /^label_values\((.+), (\w+)\)$/.exec(String(v.query))!;
      expect(m, name).not.toBeNull();
      expect(m[2]).toBe(label);
      for (const n of metricNames(m[1]!)) expect(known.has(n), n).toBe(true);
    }
    // Panels use them: the per-model and per-process panels filter on the selection.
    const exprs = dashboardQueries().map((q) => q.expr);
    expect(exprs.filter((e) => e.includes('model=~"$model"')).length).toBeGreaterThan(4);
    expect(exprs.filter((e) => e.includes('instance=~"$instance"')).length).toBeGreaterThan(4);
  });

  it('annotates settings and catalog changes with queries that parse and read exported metrics', async () => {
    const json = readDashboards().find((d) => d.json.uid === OVERVIEW_UID)!.json as unknown as { annotations: { list: Array<{ name: string; expr?: string; datasource?: { uid?: string } }> } };
    const ours = json.annotations.list.filter((a) => a.expr);
    expect(ours.map((a) => a.name).sort()).toEqual(['Catalog changed', 'Settings changed']);
    const known = exportedSeriesNames();
    for (const a of ours) {
      expect(a.datasource?.uid).toBe(DATASOURCE_VARIABLE);
      expect(syntaxErrors(a.expr!), a.name).toEqual([]);
      for (const n of metricNames(a.expr!)) expect(known.has(n), n).toBe(true);
    }
    const dir = await mkdtemp(join(tmpdir(), 'dash-annotations-'));
    try {
      const file = join(dir, 'annotations.yml');
      await writeFile(file, YAML.stringify({ groups: [{ name: 'annotations', rules: ours.map((a, i) => ({ record: `dashboard:annotation_${i}`, expr: a.expr })) }] }));
      const r = await run('promtool', ['check', 'rules', file]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('alerts', () => {
  it('every alert links to its section of docs/runbooks.md, and that section exists', () => {
    const runbooks = readFileSync(join(PROJECT_ROOT, 'docs/runbooks.md'), 'utf8');
    const slugger = new GithubSlugger();
    const tokens = new MarkdownIt().parse(runbooks, {});
    const anchors = new Set(tokens.flatMap((t, i) => (t.type === 'heading_open' ? [slugger.slug(tokens[i + 1]!.content)] : [])));
    const alerts = readRules().filter((r) => r.rule.alert);
    expect(alerts.length).toBeGreaterThan(5);
    for (const { rule } of alerts) {
      const url = rule.annotations?.runbook_url ?? '';
      const m = /^https:\/\/.+\/docs\/runbooks\.md#(.+)$|^docs\/runbooks\.md#(.+)$/.exec(url);
      expect(m, `${rule.alert}: runbook_url ${url}`).not.toBeNull();
      const anchor = m![1] ?? m![2]!;
      expect(anchor, rule.alert).toBe(rule.alert!.toLowerCase());
      expect(anchors.has(anchor), `${rule.alert}: no section #${anchor} in docs/runbooks.md`).toBe(true);
    }
  });
});
