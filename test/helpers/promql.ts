/**
 * Every PromQL expression the repository ships (dashboard panels, recording and alert rules,
 * the KEDA trigger), and what they reference, read with Prometheus' own Lezer grammar.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import YAML from 'yaml';
import { PROJECT_ROOT } from './processes.ts';

export const DASHBOARD_JSON_DIR = join(PROJECT_ROOT, 'dashboards/grafana/dashboards');
export const RULES_FILE = join(PROJECT_ROOT, 'dashboards/prometheus/rules/orchestrator.rules.yml');
export const RULES_TEST_FILE = join(PROJECT_ROOT, 'dashboards/prometheus/rules/orchestrator.rules.test.yml');
export const PROMETHEUS_CONFIG_FILE = join(PROJECT_ROOT, 'dashboards/prometheus/prometheus.yml');

export interface PanelQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly panelType: string;
  readonly refId: string;
  readonly expr: string;
  readonly instant: boolean;
  readonly datasourceUid: string | undefined;
}

interface JsonPanel {
  title?: string;
  type?: string;
  panels?: JsonPanel[];
  datasource?: { uid?: string };
  targets?: Array<{ expr?: string; refId?: string; instant?: boolean; datasource?: { uid?: string } }>;
}

export function readDashboards(): Array<{ file: string; json: { uid: string; title: string; panels: JsonPanel[]; templating?: unknown } }> {
  return readdirSync(DASHBOARD_JSON_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(DASHBOARD_JSON_DIR, file), 'utf8')) }));
}

export function dashboardPanels(): Array<{ dashboard: string; panel: JsonPanel }> {
  const out: Array<{ dashboard: string; panel: JsonPanel }> = [];
  for (const { json } of readDashboards()) {
    const walk = (panels: JsonPanel[] = []) => {
      for (const p of panels) {
        if (p.type === 'row') walk(p.panels);
        else out.push({ dashboard: json.uid, panel: p });
      }
    };
    walk(json.panels);
  }
  return out;
}

export function dashboardQueries(): PanelQuery[] {
  return dashboardPanels().flatMap(({ dashboard, panel }) =>
    (panel.targets ?? []).map((t) => ({
      dashboard,
      panel: panel.title ?? '(untitled)',
      panelType: panel.type ?? '?',
      refId: t.refId ?? '?',
      expr: t.expr ?? '',
      instant: t.instant === true,
      datasourceUid: t.datasource?.uid ?? panel.datasource?.uid,
    })),
  );
}

export interface Rule {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export function readRules(): Array<{ group: string; rule: Rule }> {
  const doc = YAML.parse(readFileSync(RULES_FILE, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules.map((rule) => ({ group: g.name, rule })));
}

/** Grafana's variables, replaced by values Prometheus accepts. */
export function substituteGrafanaVariables(expr: string, values: { rateInterval?: string; range?: string; fallbackModel?: string } = {}): string {
  return expr
    .replaceAll('$__rate_interval', values.rateInterval ?? '1m')
    .replaceAll('$__range', values.range ?? '1h')
    .replaceAll('$__interval', values.rateInterval ?? '1m')
    .replaceAll('$fallback_model', values.fallbackModel ?? 'claude-sonnet-4-6')
    // Multi-value variables with "All" selected: Grafana puts their allValue in the regex matcher.
    .replaceAll('$model', '.+')
    .replaceAll('$instance', '.+');
}

/** Lezer syntax errors of an expression, as character offsets with context. */
export function syntaxErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter(n) {
      if (n.type.isError) errors.push(`at ${n.from}: …${expr.slice(Math.max(0, n.from - 20), n.from + 20)}…`);
    },
  });
  return errors;
}

/** Metric names selected by an expression (vector selectors with a name). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  parser.parse(expr).iterate({
    enter(n) {
      if (n.name === 'VectorSelector') {
        const id = n.node.getChild('Identifier');
        if (id) names.add(expr.slice(id.from, id.to));
        // {__name__="x"} selectors
        const m = /__name__\s*=\s*"([^"]+)"/.exec(expr.slice(n.from, n.to));
        if (m) names.add(m[1]!);
      }
    },
  });
  return [...names];
}

/**
 * Selectors of `metric` that are not under a `max` aggregation: a metric exported by several
 * processes (queue depth) must never be summed across them.
 */
export function selectorsNotUnderMax(expr: string, metric: string): string[] {
  const bad: string[] = [];
  parser.parse(expr).iterate({
    enter(n) {
      if (n.name !== 'VectorSelector') return;
      const id = n.node.getChild('Identifier');
      if (!id || expr.slice(id.from, id.to) !== metric) return;
      let p: typeof n.node | null = n.node.parent;
      while (p) {
        if (p.name === 'AggregateExpr') {
          const op = p.getChild('AggregateOp');
          if (op && expr.slice(op.from, op.to) === 'max') return;
          break;
        }
        p = p.parent;
      }
      bad.push(expr.slice(n.from, n.to));
    },
  });
  return bad;
}
