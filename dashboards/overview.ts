/**
 * The overview dashboard, as code (Grafana Foundation SDK). `npm run dashboards` writes it to
 * dashboards/grafana/dashboards/; never edit that JSON by hand, a test fails when it is stale.
 *
 * PromQL conventions used here (docs/operations.md, Observability, explains them):
 * - Queue depth is exported by every worker replica and every producer, so it is always read
 *   with `max by (queue, state)`, never summed.
 * - Ratios divide two `increase()`s over the same window; the fallback rate counts WORKFLOW_GENERATED
 *   outcomes (succeeded or invalid) like the seed's SQL query does.
 * - `$__rate_interval` for graphs, `$__range` for the headline numbers of the chosen time range.
 */
import {
  AnnotationQueryBuilder,
  CustomVariableBuilder,
  type Dashboard,
  DashboardBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  BigValueColorMode,
  BigValueGraphMode,
  GraphDrawStyle,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  StackingMode,
  VizLegendOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { MODEL_CATALOG } from '../shared/default-catalog.ts';

/** The uid of the provisioned Prometheus datasource (grafana/provisioning/datasources): the default of $datasource. */
export const DATASOURCE_UID = 'orchestrator-prometheus';
/** Every query goes through this variable, so the dashboard works against any Prometheus. */
export const DATASOURCE_VARIABLE = '${datasource}';
export const OVERVIEW_UID = 'orchestrator-overview';
/** Targets from the seed design. */
export const FALLBACK_RATE_TARGET = 0.05;
export const VALIDATION_PASS_TARGET = 0.95;
/** What the dashboard reads from the standard Redis and Postgres exporters compose runs. */
export const EXPORTER_METRICS = ['redis_up', 'redis_memory_used_bytes', 'redis_connected_clients', 'pg_up', 'pg_stat_database_numbackends', 'pg_stat_database_xact_commit'] as const;
const DEFAULT_FALLBACK_MODEL = 'claude-sonnet-4-6';

const datasource = { type: 'prometheus', uid: DATASOURCE_VARIABLE };

// ---- PromQL building blocks -------------------------------------------------------------

/** Finished requests whose audit row is WORKFLOW_GENERATED (the seed's denominator). */
const GENERATED = 'orchestrator_workflow_requests_total{outcome=~"succeeded|invalid"}';
const GENERATED_VIA_FALLBACK = 'orchestrator_workflow_requests_total{outcome=~"succeeded|invalid",via="fallback"}';
/** Call failures: no answer, so nothing to validate and (almost) nothing billed. */
const CALL_FAILURES = 'rate_limit|timeout|api_error|auth_error|model_unavailable|quota_exhausted|bad_request';
const PROCESSES = 'job=~"worker|producer",instance=~"$instance"';
/** The models picked in the $model variable (all by default). */
const MODELS = 'model=~"$model"';

export const promql = {
  fallbackRate: (w: string) => `sum(increase(${GENERATED_VIA_FALLBACK}[${w}])) / sum(increase(${GENERATED}[${w}]))`,
  validationPassRate: (w: string) =>
    `sum by (model) (increase(orchestrator_validation_results_total{result="pass",${MODELS}}[${w}])) / sum by (model) (increase(orchestrator_validation_results_total{${MODELS}}[${w}]))`,
  spend: (w: string) => `sum(increase(orchestrator_model_cost_usd_total[${w}]))`,
  costPerSuccess: (w: string) => `sum(increase(orchestrator_model_cost_usd_total[${w}])) / sum(increase(orchestrator_workflow_requests_total{outcome="succeeded"}[${w}]))`,
  /**
   * What the fallback model costs per answered call, measured over a day so that a quiet hour
   * without fallbacks still has a price.
   */
  fallbackCostPerCall: `(sum(increase(orchestrator_model_cost_usd_total{model="$fallback_model"}[1d])) / sum(increase(orchestrator_model_attempts_total{model="$fallback_model",outcome!~"${CALL_FAILURES}"}[1d])))`,
  /** Spend had every request that reached a model gone to the fallback model instead. */
  allFallbackSpend: (w: string) => `sum(increase(orchestrator_workflow_requests_total{outcome!="rejected"}[${w}])) * ${promql.fallbackCostPerCall}`,
  savings: (w: string) => `${promql.allFallbackSpend(w)} - ${promql.spend(w)}`,
  spendPerHour: 'sum(rate(orchestrator_model_cost_usd_total[$__rate_interval])) * 3600',
  allFallbackPerHour: () => `sum(rate(orchestrator_workflow_requests_total{outcome!="rejected"}[$__rate_interval])) * 3600 * ${promql.fallbackCostPerCall}`,
  savingsPerHour: () => `${promql.allFallbackPerHour()} - ${promql.spendPerHour}`,
  activeWorkers: 'count(up{job="worker"} == 1) or vector(0)',
  queueDepth: 'max by (queue, state) (orchestrator_queue_jobs{state=~"waiting|prioritized|active|delayed|waiting-children|paused"})',
  attemptLatency: (q: number) => `histogram_quantile(${q}, sum by (model, le) (rate(orchestrator_model_attempt_duration_seconds_bucket{${MODELS}}[$__rate_interval])))`,
  failedRatio: (w: string) => `sum(increase(orchestrator_workflow_requests_total{outcome="failed"}[${w}])) / sum(increase(orchestrator_workflow_requests_total[${w}]))`,
  oldestWaiting: 'max by (queue) (orchestrator_queue_oldest_waiting_age_seconds)',
  queueWait: (q: number) => `histogram_quantile(${q}, sum by (queue, le) (rate(orchestrator_queue_wait_seconds_bucket[$__rate_interval])))`,
  /** One series per firing or pending alert, or a single 0 when none is: the panel is never empty. */
  alertState: 'count by (alertname, alertstate) (ALERTS) or on() vector(0)',
  firingAlerts: 'count(ALERTS{alertstate="firing"}) or on() vector(0)',
  /** A label set first seen in the last minute: the settings or the catalog just changed. */
  settingsChanged: 'count by (primary_model, fallback_model, enable_fallback) (orchestrator_settings_info) unless count by (primary_model, fallback_model, enable_fallback) (orchestrator_settings_info offset 1m)',
  catalogChanged: 'count by (catalog_version) (orchestrator_catalog_info) unless count by (catalog_version) (orchestrator_catalog_info offset 1m)',
};

// ---- panel helpers --------------------------------------------------------------------

interface Target {
  readonly expr: string;
  readonly legend?: string;
}

function query(t: Target, refId: string): DataqueryBuilder {
  return new DataqueryBuilder().expr(t.expr).legendFormat(t.legend ?? '__auto').refId(refId).datasource(datasource);
}

function thresholds(steps: Array<[number | null, string]>): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps.map(([value, color]) => ({ value, color })));
}

interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly targets: readonly Target[];
  readonly width?: number;
  readonly height?: number;
  readonly decimals?: number;
  readonly min?: number;
  readonly max?: number;
}

function timeseries(p: PanelSpec & { threshold?: { value: number; good: 'below' | 'above' }; stacked?: boolean; bars?: boolean }): TimeseriesPanel {
  const panel = new TimeseriesPanel()
    .title(p.title)
    .description(p.description)
    .datasource(datasource)
    .unit(p.unit)
    .span(p.width ?? 8)
    .height(p.height ?? 8)
    .lineWidth(1)
    .fillOpacity(p.stacked ? 60 : 10)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom).calcs([]))
    .targets(p.targets.map((t, i) => query(t, String.fromCharCode(65 + i))));
  if (p.decimals !== undefined) panel.decimals(p.decimals);
  if (p.min !== undefined) panel.min(p.min);
  if (p.max !== undefined) panel.max(p.max);
  if (p.stacked) panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  if (p.bars) panel.drawStyle(GraphDrawStyle.Bars);
  if (p.threshold) {
    const { value, good } = p.threshold;
    panel
      .thresholds(good === 'below' ? thresholds([[null, 'green'], [value, 'red']]) : thresholds([[null, 'red'], [value, 'green']]))
      .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  }
  return panel;
}

function stat(p: PanelSpec & { steps: Array<[number | null, string]> }): StatPanel {
  const panel = new StatPanel()
    .title(p.title)
    .description(p.description)
    .datasource(datasource)
    .unit(p.unit)
    .span(p.width ?? 4)
    .height(p.height ?? 5)
    .colorMode(BigValueColorMode.Value)
    .graphMode(BigValueGraphMode.None)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .thresholds(thresholds(p.steps))
    .targets(p.targets.map((t, i) => query(t, String.fromCharCode(65 + i)).instant()));
  if (p.decimals !== undefined) panel.decimals(p.decimals);
  return panel;
}

// ---- the dashboard --------------------------------------------------------------------

export function buildOverviewDashboard(): Dashboard {
  const models = MODEL_CATALOG.map((m) => m.id);
  const fallbackModel = new CustomVariableBuilder('fallback_model')
    .label('Fallback model (for savings)')
    .description('The model the savings panels compare against: what every request would have cost on it.')
    .values(models.join(','))
    .current({ text: DEFAULT_FALLBACK_MODEL, value: DEFAULT_FALLBACK_MODEL, selected: true });

  const datasourceVariable = new DatasourceVariableBuilder('datasource')
    .label('Prometheus')
    .description('The Prometheus every panel reads; the provisioned one by default.')
    .type('prometheus')
    .current({ text: 'Prometheus', value: DATASOURCE_UID, selected: true });
  const modelVariable = new QueryVariableBuilder('model')
    .label('Model')
    .description('Models seen in the attempt counters; filters the per-model panels.')
    .datasource(datasource)
    .query('label_values(orchestrator_model_attempts_total, model)')
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.+')
    .current({ text: 'All', value: '$__all', selected: true });
  const instanceVariable = new QueryVariableBuilder('instance')
    .label('Instance')
    .description('Worker and producer processes Prometheus scrapes; filters the process panels.')
    .datasource(datasource)
    .query('label_values(up{job=~"worker|producer"}, instance)')
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.+')
    .current({ text: 'All', value: '$__all', selected: true });
  const settingsAnnotation = new AnnotationQueryBuilder()
    .name('Settings changed')
    .datasource(datasource)
    .enable(true)
    .iconColor('orange')
    .expr(promql.settingsChanged)
    .step('15s')
    .titleFormat('Settings changed')
    .textFormat('primary {{primary_model}}, fallback {{fallback_model}}, fallback on: {{enable_fallback}}')
    .useValueForTime(false);
  const catalogAnnotation = new AnnotationQueryBuilder()
    .name('Catalog changed')
    .datasource(datasource)
    .enable(true)
    .iconColor('purple')
    .expr(promql.catalogChanged)
    .step('15s')
    .titleFormat('Model catalog changed')
    .textFormat('catalog {{catalog_version}} in force')
    .useValueForTime(false);

  return new DashboardBuilder('Workflow orchestrator — overview')
    .uid(OVERVIEW_UID)
    .description('Requests, fallbacks, validation, spend, latency, queue and process health of the workflow orchestrator.')
    .tags(['orchestrator', 'generated'])
    .readonly()
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(datasourceVariable)
    .withVariable(modelVariable)
    .withVariable(instanceVariable)
    .withVariable(fallbackModel)
    .annotation(settingsAnnotation)
    .annotation(catalogAnnotation)

    .withRow(new RowBuilder('Headline (selected time range)'))
    .withPanel(
      stat({
        title: 'Fallback rate',
        description: `Share of generated workflows (succeeded or invalid) produced by the fallback model; same definition as the seed's SQL. Target below ${FALLBACK_RATE_TARGET * 100}%, alert above 10%.`,
        unit: 'percentunit',
        decimals: 1,
        targets: [{ expr: promql.fallbackRate('$__range'), legend: 'fallback rate' }],
        steps: [[null, 'green'], [FALLBACK_RATE_TARGET, 'orange'], [0.1, 'red']],
      }),
    )
    .withPanel(
      stat({
        title: 'Validation pass rate by model',
        description: `Model answers that passed schema and graph validation, per model. Target ${VALIDATION_PASS_TARGET * 100}% or more.`,
        unit: 'percentunit',
        decimals: 1,
        targets: [{ expr: promql.validationPassRate('$__range'), legend: '{{model}}' }],
        steps: [[null, 'red'], [VALIDATION_PASS_TARGET, 'green']],
      }),
    )
    .withPanel(
      stat({
        title: 'Spend',
        description: 'Everything billed by the model vendors in the range, failed attempts included.',
        unit: 'currencyUSD',
        decimals: 4,
        targets: [{ expr: promql.spend('$__range'), legend: 'spend' }],
        steps: [[null, 'text']],
      }),
    )
    .withPanel(
      stat({
        title: 'Cost per successful workflow (range)',
        description: 'All spend (wasted primary attempts included) divided by the requests that ended with a valid workflow.',
        unit: 'currencyUSD',
        decimals: 5,
        targets: [{ expr: promql.costPerSuccess('$__range'), legend: 'per success' }],
        steps: [[null, 'text']],
      }),
    )
    .withPanel(
      stat({
        title: 'Savings vs all-fallback',
        description: 'What sending every request to $fallback_model would have cost (requests × its measured cost per answered call over the last day), minus actual spend.',
        unit: 'currencyUSD',
        decimals: 4,
        targets: [{ expr: promql.savings('$__range'), legend: 'saved' }],
        steps: [[null, 'red'], [0, 'green']],
      }),
    )
    .withPanel(
      stat({
        title: 'Active workers',
        description: 'Worker replicas whose /metrics Prometheus scraped successfully (discovered by DNS).',
        unit: 'none',
        targets: [{ expr: promql.activeWorkers, legend: 'workers up' }],
        steps: [[null, 'red'], [1, 'green']],
      }),
    )
    .withPanel(
      stat({
        title: 'Failed ratio',
        description: 'Requests that ended failed (no model answered usefully) over all finished requests in the range. The JobsFailing alert fires above 2%.',
        unit: 'percentunit',
        decimals: 2,
        width: 6,
        targets: [{ expr: promql.failedRatio('$__range'), legend: 'failed' }],
        steps: [[null, 'green'], [0.01, 'orange'], [0.02, 'red']],
      }),
    )
    .withPanel(
      stat({
        title: 'Oldest waiting job',
        description: 'Age of the oldest job waiting for a worker, per queue, now. It keeps rising when no worker takes jobs, even before the backlog alert fires.',
        unit: 's',
        decimals: 1,
        width: 6,
        targets: [{ expr: promql.oldestWaiting, legend: '{{queue}}' }],
        steps: [[null, 'green'], [30, 'orange'], [120, 'red']],
      }),
    )
    .withPanel(
      stat({
        title: 'Alerts firing',
        description: 'Alerts of dashboards/prometheus/rules firing now; each one links to its runbook in docs/runbooks.md.',
        unit: 'none',
        width: 4,
        targets: [{ expr: promql.firingAlerts, legend: 'firing' }],
        steps: [[null, 'green'], [1, 'red']],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Alert state',
        description: 'Each alert while pending or firing (0 when none is). What to do: docs/runbooks.md, under the alert\'s name.',
        unit: 'none',
        width: 8,
        height: 5,
        decimals: 0,
        targets: [{ expr: promql.alertState, legend: '{{alertname}} {{alertstate}}' }],
      }),
    )

    .withRow(new RowBuilder('Requests, fallbacks, validation'))
    .withPanel(
      timeseries({
        title: 'Requests per second by outcome',
        description: 'Finished requests per second by final status: succeeded, invalid (no valid workflow), failed (no answer), rejected (broke the job contract).',
        unit: 'reqps',
        stacked: true,
        width: 12,
        targets: [{ expr: 'sum by (outcome) (rate(orchestrator_workflow_requests_total[$__rate_interval]))', legend: '{{outcome}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Fallback rate vs 5% target',
        description: 'Share of generated workflows produced by the fallback model. The dashed line is the 5% target; the FallbackRateHigh alert fires above 10% for 15 minutes.',
        unit: 'percentunit',
        min: 0,
        width: 12,
        threshold: { value: FALLBACK_RATE_TARGET, good: 'below' },
        targets: [{ expr: promql.fallbackRate('$__rate_interval'), legend: 'fallback rate' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Validation pass rate per model vs 95%',
        description: 'Share of model answers (HTTP 200) that passed validation, per model. Call failures (429, 5xx, timeouts) are not answers and do not count.',
        unit: 'percentunit',
        max: 1,
        width: 12,
        threshold: { value: VALIDATION_PASS_TARGET, good: 'above' },
        targets: [{ expr: promql.validationPassRate('$__rate_interval'), legend: '{{model}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Fallback reasons',
        description: 'Hand-overs from the primary to the fallback model per interval, by the primary attempt\'s failure.',
        unit: 'short',
        stacked: true,
        bars: true,
        width: 12,
        targets: [{ expr: 'sum by (reason) (increase(orchestrator_fallbacks_total[$__rate_interval]))', legend: '{{reason}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Ladder: hand-overs by step, repairs by outcome',
        description: 'Hand-overs to each step of the ladder per interval (step 1: the fallback; 2 and up: the fallback chain; circuit_open: a step skipped because its model is down), and repair calls (a model re-asked with its own validation errors) by outcome: ok means the repair saved the step.',
        unit: 'short',
        stacked: false,
        bars: true,
        width: 12,
        targets: [
          { expr: 'sum by (step) (increase(orchestrator_ladder_handovers_total[$__rate_interval]))', legend: 'hand-over to step {{step}}' },
          { expr: 'sum by (outcome) (increase(orchestrator_repairs_total[$__rate_interval]))', legend: 'repair {{outcome}}' },
        ],
      }),
    )

    .withRow(new RowBuilder('Cost'))
    .withPanel(
      timeseries({
        title: 'Spend per hour by model',
        description: 'Vendor spend rate in USD per hour, by model.',
        unit: 'currencyUSD',
        stacked: true,
        targets: [{ expr: `sum by (model) (rate(orchestrator_model_cost_usd_total{${MODELS}}[$__rate_interval])) * 3600`, legend: '{{model}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Cost per successful workflow',
        description: 'All spend divided by the requests that ended with a valid workflow.',
        unit: 'currencyUSD',
        decimals: 5,
        targets: [{ expr: promql.costPerSuccess('$__rate_interval'), legend: 'cost per success' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Savings vs sending everything to $fallback_model',
        description: 'USD per hour: actual spend, what the same requests would have cost on $fallback_model (at its measured cost per answered call), and the difference.',
        unit: 'currencyUSD',
        targets: [
          { expr: promql.spendPerHour, legend: 'actual' },
          { expr: promql.allFallbackPerHour(), legend: 'all on $fallback_model' },
          { expr: promql.savingsPerHour(), legend: 'saved' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Tokens per second by model',
        description: 'Billed tokens per second by model and direction (input, output, cached input, cache write).',
        unit: 'short',
        width: 24,
        height: 7,
        targets: [{ expr: `sum by (model, direction) (rate(orchestrator_model_tokens_total{${MODELS}}[$__rate_interval]))`, legend: '{{model}} {{direction}}' }],
      }),
    )

    .withRow(new RowBuilder('Latency'))
    .withPanel(
      timeseries({
        title: 'Model attempt latency p50 / p95 / p99',
        description: 'Duration of one model call, from request to classified outcome, per model.',
        unit: 's',
        width: 12,
        targets: [
          { expr: promql.attemptLatency(0.5), legend: '{{model}} p50' },
          { expr: promql.attemptLatency(0.95), legend: '{{model}} p95' },
          { expr: promql.attemptLatency(0.99), legend: '{{model}} p99' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Generation duration p95 by outcome',
        description: 'From first pick-up of a request to its final outcome, fallback and retries included.',
        unit: 's',
        width: 6,
        targets: [{ expr: 'histogram_quantile(0.95, sum by (outcome, le) (rate(orchestrator_generation_duration_seconds_bucket[$__rate_interval])))', legend: '{{outcome}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Model attempts by outcome',
        description: 'Model calls per second by model, role and classified outcome.',
        unit: 'reqps',
        width: 6,
        targets: [{ expr: `sum by (model, role, outcome) (rate(orchestrator_model_attempts_total{${MODELS}}[$__rate_interval]))`, legend: '{{model}} {{role}} {{outcome}}' }],
      }),
    )

    .withRow(new RowBuilder('Queue and workers'))
    .withPanel(
      timeseries({
        title: 'Queue depth by state',
        description: 'Jobs per queue and state, read from Redis at scrape time by every replica and producer (hence max, not sum). Delayed holds retries and jobs waiting out a rate-limit pause.',
        unit: 'short',
        targets: [{ expr: promql.queueDepth, legend: '{{queue}} {{state}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Oldest waiting job age',
        description: 'Age of the oldest job waiting for a worker, per queue (0 when none waits). Read from Redis by every process, hence max.',
        unit: 's',
        targets: [{ expr: promql.oldestWaiting, legend: '{{queue}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Queue wait p50 / p95',
        description: 'From a job being added to its first pick-up by a worker, per queue. Retries and jobs back from a rate-limit pause are not counted.',
        unit: 's',
        targets: [
          { expr: promql.queueWait(0.5), legend: '{{queue}} p50' },
          { expr: promql.queueWait(0.95), legend: '{{queue}} p95' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Active workers (replicas up)',
        description: 'Scrape targets that answered, by job. Worker replicas are discovered by DNS; a replica that is gone disappears from the count.',
        unit: 'none',
        min: 0,
        decimals: 0,
        targets: [{ expr: `sum by (job) (up{${PROCESSES}})`, legend: '{{job}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Days until the configured models retire',
        description: 'Days left before the vendor stops serving each configured model (shutdown_at in the model catalog), by role; 0 or below: retired, every call fails with model_unavailable and hands over. Alerts: ConfiguredModelRetiringSoon (under 30 days), ConfiguredModelRetired.',
        unit: 'd',
        decimals: 0,
        threshold: { value: 30, good: 'above' },
        targets: [{ expr: '(max by (role, model, replacement) (orchestrator_configured_model_shutdown_timestamp_seconds) - time()) / 86400', legend: '{{role}} {{model}} → {{replacement}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Rate-limit pauses per minute',
        description: 'Model pauses started because a vendor answered 429; every replica honours a pause through Redis.',
        unit: 'short',
        targets: [{ expr: `sum by (model) (rate(orchestrator_rate_limit_pauses_total{${MODELS}}[$__rate_interval])) * 60`, legend: '{{model}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Escalation ladder in force',
        description: 'What the workers apply now: the models after the primary (0 with fallback off), how often a failing answer is re-asked with its errors, and the cost cap per request in USD (no line: no cap). A change here explains a change in cost per workflow or fallback rate.',
        unit: 'short',
        decimals: 2,
        min: 0,
        targets: [{ expr: 'max by (setting) (orchestrator_ladder_setting)', legend: '{{setting}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Model circuits',
        description: 'Each configured model’s circuit, shared by the replicas: 0 closed, 1 half-open (one probe call is testing it), 2 open (requests skip the model and go to the next step of the ladder). Alert: OrchestratorModelCircuitOpen.',
        unit: 'short',
        decimals: 0,
        min: 0,
        max: 2,
        targets: [{ expr: `max by (model) (orchestrator_model_circuit_state{${MODELS}})`, legend: '{{model}}' }],
      }),
    )

    .withPanel(
      timeseries({
        title: 'Postgres writes per statement',
        description: 'Group-committed request writes (begin, finish) per statement, p50 and max, and batches written one by one after their statement failed (should stay near zero).',
        unit: 'short',
        width: 12,
        targets: [
          { expr: 'histogram_quantile(0.5, sum by (write, le) (rate(orchestrator_db_write_batch_size_bucket[$__rate_interval])))', legend: '{{write}} p50' },
          { expr: 'histogram_quantile(1, sum by (write, le) (rate(orchestrator_db_write_batch_size_bucket[$__rate_interval])))', legend: '{{write}} max' },
          // The zero line from all batches keeps the series there while no batch was split, as it should be.
          {
            expr: 'sum by (write) (rate(orchestrator_db_write_batch_size_count{written="one_by_one"}[$__rate_interval])) or sum by (write) (rate(orchestrator_db_write_batch_size_count[$__rate_interval])) * 0',
            legend: '{{write}} one by one /s',
          },
        ],
      }),
    )

    .withRow(new RowBuilder('Redis and Postgres (exporters)'))
    .withPanel(
      stat({
        title: 'Redis up',
        description: 'redis_exporter reaches Redis (1). Queues, locks and rate-limit pauses live there: with Redis down nothing is enqueued or processed.',
        unit: 'none',
        width: 3,
        targets: [{ expr: 'max(redis_up)', legend: 'redis' }],
        steps: [[null, 'red'], [1, 'green']],
      }),
    )
    .withPanel(
      stat({
        title: 'Postgres up',
        description: 'postgres_exporter reaches Postgres (1). Results wait (workers retry for 30 s) while it is down.',
        unit: 'none',
        width: 3,
        targets: [{ expr: 'max(pg_up)', legend: 'postgres' }],
        steps: [[null, 'red'], [1, 'green']],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Redis memory used',
        description: 'Memory Redis uses. It must never evict (maxmemory-policy noeviction): an evicted job key is a lost request.',
        unit: 'bytes',
        width: 6,
        targets: [{ expr: 'max(redis_memory_used_bytes)', legend: 'used' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Redis connected clients',
        description: 'Client connections to Redis: each worker holds a few (BullMQ blocking reads need their own), each producer one or two.',
        unit: 'short',
        width: 6,
        targets: [{ expr: 'max(redis_connected_clients)', legend: 'clients' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Postgres connections and commits',
        description: 'Backends connected per database (each worker opens a pool of clamp(concurrency / 10, 4, 20)), and commits per second.',
        unit: 'short',
        width: 6,
        targets: [
          { expr: 'sum by (datname) (pg_stat_database_numbackends{datname!~"template.*|postgres"})', legend: '{{datname}} connections' },
          { expr: 'sum by (datname) (rate(pg_stat_database_xact_commit{datname!~"template.*|postgres"}[$__rate_interval]))', legend: '{{datname}} commits/s' },
        ],
      }),
    )

    .withRow(new RowBuilder('Producer API'))
    .withPanel(
      timeseries({
        title: 'HTTP requests per second by route and status',
        description: 'Producer HTTP requests by route template and status code.',
        unit: 'reqps',
        targets: [{ expr: 'sum by (route, status) (rate(orchestrator_http_requests_total[$__rate_interval]))', legend: '{{route}} {{status}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'HTTP latency p95 by route',
        description: 'Producer HTTP request duration (event streams: the whole stream).',
        unit: 's',
        targets: [{ expr: 'histogram_quantile(0.95, sum by (route, le) (rate(orchestrator_http_request_duration_seconds_bucket[$__rate_interval])))', legend: '{{route}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Enqueue latency p50 / p99',
        description: 'Time to check a request against the job contract and write it to Redis.',
        unit: 's',
        targets: [
          { expr: 'histogram_quantile(0.5, sum by (le) (rate(orchestrator_enqueue_duration_seconds_bucket[$__rate_interval])))', legend: 'p50' },
          { expr: 'histogram_quantile(0.99, sum by (le) (rate(orchestrator_enqueue_duration_seconds_bucket[$__rate_interval])))', legend: 'p99' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Requests lost in Redis, and replica waits',
        description:
          'Accepted requests whose job Redis lost (a failover), as the lost-request sweep found them: put back (requeued) or recorded as lost_in_queue (failed). With ENQUEUE_WAIT_REPLICAS, enqueues whose job was not on the replicas by the timeout (short) or whose WAIT failed (error).',
        unit: 'short',
        targets: [
          { expr: 'sum by (action) (increase(orchestrator_lost_requests_total[$__rate_interval]))', legend: 'lost: {{action}}' },
          { expr: 'sum by (outcome) (increase(orchestrator_enqueue_replica_waits_total{outcome!="replicated"}[$__rate_interval]))', legend: 'replica wait: {{outcome}}' },
        ],
      }),
    )

    .withRow(new RowBuilder('Process health (workers and producers)'))
    .withPanel(
      timeseries({
        title: 'Resident memory',
        description: 'Resident set size per process.',
        unit: 'bytes',
        width: 6,
        targets: [{ expr: `process_resident_memory_bytes{${PROCESSES}}`, legend: '{{job}} {{instance}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'CPU',
        description: 'CPU seconds per second per process (1 = one core).',
        unit: 'percentunit',
        width: 6,
        targets: [{ expr: `rate(process_cpu_seconds_total{${PROCESSES}}[$__rate_interval])`, legend: '{{job}} {{instance}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Event loop lag p99',
        description: 'A blocked event loop delays lock renewals (stalled jobs) and scrapes.',
        unit: 's',
        width: 6,
        targets: [{ expr: `nodejs_eventloop_lag_p99_seconds{${PROCESSES}}`, legend: '{{job}} {{instance}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Heap in use',
        description: 'V8 heap in use per process.',
        unit: 'bytes',
        width: 6,
        targets: [{ expr: `nodejs_heap_size_used_bytes{${PROCESSES}}`, legend: '{{job}} {{instance}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Restarts in the last hour',
        description: 'Process starts per instance over the last hour; a crash-looping replica shows here before anything else.',
        unit: 'short',
        width: 12,
        height: 6,
        decimals: 0,
        targets: [{ expr: `changes(process_start_time_seconds{${PROCESSES}}[1h])`, legend: '{{job}} {{instance}}' }],
      }),
    )
    .build();
}

/** Grafana wants a unique id per panel; the builder leaves them to us. */
export function numberPanels(d: Dashboard): Dashboard {
  let id = 1;
  for (const panel of d.panels ?? []) {
    panel.id = id++;
    if ('panels' in panel) for (const inner of panel.panels ?? []) inner.id = id++;
  }
  return d;
}
