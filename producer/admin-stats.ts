/**
 * What the admin console shows besides the settings: the model catalog with each model's cost
 * per workflow, and the live 7/30-day figures against the seed's targets (fallback rate under
 * 5%, validation pass rate over 95%), with spend, savings and the system flow's counts.
 */
import type { Database } from '../db/client.ts';
import * as q from '../db/stats-queries.ts';
import { costOf, formatUsd, parseUsd, type TokenUsage, usdToNumber } from '../shared/money.ts';
import { type ModelCatalog, type ModelSpec } from '../shared/models.ts';
import { VALIDATION_FAILURE_KINDS, type ValidationFailureKind } from '../shared/outcomes.ts';

/** A typical workflow request: prompt with the plugin list in, a workflow of a dozen steps out. */
export const TYPICAL_USAGE: TokenUsage = Object.freeze({ inputTokens: 2_500, outputTokens: 1_200, cachedInputTokens: 0, cacheWriteTokens: 0 });
/** Successful attempts needed before the measured average replaces the typical usage. */
export const MEASURED_MIN_SAMPLES = 20;
export const CATALOG_WINDOW_DAYS = 30;

export const TARGETS = Object.freeze({ fallbackRatePercent: 5, validationPassRatePercent: 95 });

export interface CatalogModel {
  readonly id: string;
  readonly label: string;
  readonly provider: string;
  readonly description: string;
  readonly pricing: ModelSpec['pricing'];
  readonly contextWindowTokens: number;
  readonly maxOutputTokens: number;
  readonly costPerWorkflowUsd: number;
  readonly costPerWorkflowExact: string;
  readonly enabled: boolean;
  readonly deprecatedAt: string | null;
  readonly shutdownAt: string | null;
  readonly replacementId: string | null;
  /**
   * `measured`: the model's own average cost per successful attempt over the last 30 days (it has
   * history); `estimate`: its catalog prices on the view's `usage`. One price per model: the
   * console's table, dropdowns, projections and the savings baseline all use this one.
   */
  readonly costBasis: 'measured' | 'estimate';
  readonly measuredSamples: number;
}

export interface CatalogView {
  readonly basis: 'measured' | 'typical';
  readonly sampleSize: number;
  readonly windowDays: number;
  readonly usage: TokenUsage;
  readonly models: readonly CatalogModel[];
}

/**
 * Every model with its price per workflow: its own measured average when it has successful
 * attempts in the last 30 days, else an estimate from its catalog prices on a workload that is
 * the 30 days' average usage when there is enough data, else a typical workflow.
 */
export async function catalogView(db: Database, catalog: ModelCatalog): Promise<CatalogView> {
  const [measured, perModel] = await Promise.all([q.averageWorkflowUsage(db, CATALOG_WINDOW_DAYS), q.averageOkCostByModel(db, CATALOG_WINDOW_DAYS)]);
  const useMeasured = measured.samples >= MEASURED_MIN_SAMPLES;
  const usage: TokenUsage = useMeasured
    ? { inputTokens: measured.inputTokens, outputTokens: measured.outputTokens, cachedInputTokens: measured.cachedInputTokens, cacheWriteTokens: measured.cacheWriteTokens }
    : TYPICAL_USAGE;
  return { basis: useMeasured ? 'measured' : 'typical', sampleSize: measured.samples, windowDays: CATALOG_WINDOW_DAYS, usage, models: catalog.models.map((m) => catalogModel(m, usage, perModel.get(m.id))) };
}

function catalogModel(m: ModelSpec, usage: TokenUsage, own?: { samples: number; avgCostUsd: string }): CatalogModel {
  const measured = own !== undefined && own.samples > 0;
  const cost = measured ? parseUsd(roundTo12(own.avgCostUsd)) : costOf(m, usage);
  return {
    id: m.id,
    label: m.label,
    provider: m.provider,
    description: m.description,
    pricing: m.pricing,
    contextWindowTokens: m.contextWindowTokens,
    maxOutputTokens: m.maxOutputTokens,
    costPerWorkflowUsd: usdToNumber(cost),
    enabled: m.enabled,
    deprecatedAt: m.deprecatedAt?.toISOString() ?? null,
    shutdownAt: m.shutdownAt?.toISOString() ?? null,
    replacementId: m.replacementId,
    costPerWorkflowExact: formatUsd(cost),
    costBasis: measured ? 'measured' : 'estimate',
    measuredSamples: own?.samples ?? 0,
  };
}

const percent = (part: number, whole: number): number | null => (whole > 0 ? Math.round((part * 10_000) / whole) / 100 : null);
const usd = (exact: string): number => usdToNumber(parseUsd(roundTo12(exact)));

/** Postgres averages carry up to 16+ decimals; money.ts holds 12. */
function roundTo12(text: string): string {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) return '0';
  const frac = m[2] ?? '';
  if (frac.length <= 12) return text.trim();
  // Round half up at the 12th decimal.
  const scaled = BigInt(m[1]! + frac.slice(0, 12)) + (Number(frac[12]) >= 5 ? 1n : 0n);
  const s = scaled.toString().padStart(13, '0');
  return `${s.slice(0, -12)}.${s.slice(-12)}`;
}

/** One model's attempts in one role over the window. */
export interface RoleModel {
  readonly model: string;
  readonly attempts: number;
  readonly answered: number;
  readonly passed: number;
}

export interface StatsView {
  readonly windowDays: number;
  readonly window: string;
  readonly generatedAt: string;
  readonly targets: typeof TARGETS;
  readonly fallbackRate: { readonly total: number; readonly fallbacks: number; readonly percent: number | null; readonly meetsTarget: boolean | null };
  readonly validation: readonly {
    readonly model: string;
    readonly answered: number;
    readonly passed: number;
    readonly percent: number | null;
    readonly meetsTarget: boolean | null;
    readonly failures: Record<ValidationFailureKind, number>;
  }[];
  readonly spendByGenerator: readonly { readonly generator: string; readonly workflows: number; readonly validationPassed: number; readonly totalCostUsd: number; readonly avgCostUsd: number }[];
  readonly spendByModel: readonly { readonly model: string; readonly attempts: number; readonly costUsd: number }[];
  readonly totals: { readonly finishedRequests: number; readonly usableWorkflows: number; readonly spendUsd: number };
  readonly costPerWorkflowUsd: number | null;
  readonly savings: {
    readonly baselineModel: string;
    readonly baselineCostPerWorkflowUsd: number;
    readonly baselineBasis: 'measured' | 'catalog';
    readonly baselineUsd: number;
    readonly actualUsd: number;
    readonly savingsUsd: number;
    readonly savingsPercent: number | null;
  };
  readonly flow: {
    /**
     * The models that actually served each role in the window, from the attempt rows: after a
     * settings change these differ from the models configured now, and figures are theirs.
     */
    readonly primaryModels: readonly RoleModel[];
    readonly fallbackModels: readonly RoleModel[];
    readonly pickedUp: number;
    readonly waitingNow: { readonly primary: number; readonly fallback: number } | null;
    readonly primaryAttempts: number;
    readonly primaryAnswered: number;
    readonly primaryCallFailures: number;
    readonly primaryPassed: number;
    readonly primaryFailedValidation: number;
    readonly handovers: number;
    readonly fallbackAttempts: number;
    readonly fallbackAnswered: number;
    readonly fallbackPassed: number;
    readonly fallbackFailedValidation: number;
    readonly persisted: { readonly succeeded: number; readonly invalid: number; readonly failed: number; readonly rejected: number };
    readonly inProgress: number;
  };
}

export interface StatsInputs {
  readonly db: Database;
  readonly days: number;
  /** The window's name as the API and the console show it. */
  readonly window: string;
  /** The fallback model everything would go to without the primary (the configured one). */
  readonly baselineModel: string;
  /** Jobs waiting in each queue now; null when Redis does not answer. */
  readonly waitingNow: { primary: number; fallback: number } | null;
  readonly catalog: CatalogView;
}

export async function statsView(i: StatsInputs): Promise<StatsView> {
  const [rate, generators, attempts, finals, handoverCount, byStatus] = await Promise.all([
    q.fallbackRate(i.db, i.days),
    q.spendByGenerator(i.db, i.days),
    q.attemptsByModel(i.db, i.days),
    q.finalOutcomes(i.db, i.days),
    q.handovers(i.db, i.days),
    q.requestsByStatus(i.db, i.days),
  ]);

  const perModel = new Map<string, { answered: number; passed: number; attempts: number; cost: bigint; failures: Record<ValidationFailureKind, number> }>();
  const role = { primary: { attempts: 0, answered: 0, passed: 0 }, fallback: { attempts: 0, answered: 0, passed: 0 } };
  for (const a of attempts) {
    const m = perModel.get(a.model) ?? { answered: 0, passed: 0, attempts: 0, cost: 0n, failures: Object.fromEntries(VALIDATION_FAILURE_KINDS.map((k) => [k, 0])) as Record<ValidationFailureKind, number> };
    m.answered += a.answered;
    m.passed += a.passed;
    m.attempts += a.attempts;
    m.cost += parseUsd(roundTo12(a.costUsd));
    for (const k of VALIDATION_FAILURE_KINDS) m.failures[k] += a.failures[k];
    perModel.set(a.model, m);
    // Repairs count in their model's figures; the role card compares the ladder's first calls.
    if (a.role === 'repair') continue;
    const r = role[a.role] ?? role.primary;
    r.attempts += a.attempts;
    r.answered += a.answered;
    r.passed += a.passed;
  }

  const finalBy = new Map(finals.map((f) => [f.action, f]));
  const generated = finalBy.get('WORKFLOW_GENERATED');
  const failed = finalBy.get('WORKFLOW_GENERATION_FAILED');
  const finishedRequests = (generated?.requests ?? 0) + (failed?.requests ?? 0);
  const usableWorkflows = generated?.usable ?? 0;
  const spend = parseUsd(roundTo12(generated?.costUsd ?? '0')) + parseUsd(roundTo12(failed?.costUsd ?? '0'));

  // The baseline's price is the catalog view's, so the live card and the cost table agree.
  const baselineFromCatalog = i.catalog.models.find((m) => m.id === i.baselineModel) ?? i.catalog.models[0]!;
  const measured = baselineFromCatalog.costBasis === 'measured';
  const baselinePer = parseUsd(baselineFromCatalog.costPerWorkflowExact);
  const baseline = baselinePer * BigInt(finishedRequests);
  const savings = baseline - spend;

  const pct = rate.total > 0 ? percent(rate.fallbacks, rate.total) : null;
  return {
    windowDays: i.days,
    window: i.window,
    generatedAt: new Date().toISOString(),
    targets: TARGETS,
    fallbackRate: { total: rate.total, fallbacks: rate.fallbacks, percent: pct, meetsTarget: pct === null ? null : pct <= TARGETS.fallbackRatePercent },
    validation: [...perModel.entries()].map(([model, m]) => {
      const p = percent(m.passed, m.answered);
      return { model, answered: m.answered, passed: m.passed, percent: p, meetsTarget: p === null ? null : p >= TARGETS.validationPassRatePercent, failures: m.failures };
    }),
    spendByGenerator: generators.map((g) => ({ generator: g.generator, workflows: g.workflows, validationPassed: g.validationPassed, totalCostUsd: usd(g.totalCostUsd), avgCostUsd: usd(g.avgCostUsd) })),
    spendByModel: [...perModel.entries()].map(([model, m]) => ({ model, attempts: m.attempts, costUsd: usdToNumber(m.cost) })),
    totals: { finishedRequests, usableWorkflows, spendUsd: usdToNumber(spend) },
    costPerWorkflowUsd: usableWorkflows > 0 ? usdToNumber(spend / BigInt(usableWorkflows)) : null,
    savings: {
      baselineModel: i.baselineModel,
      baselineCostPerWorkflowUsd: usdToNumber(baselinePer),
      baselineBasis: measured ? 'measured' : 'catalog',
      baselineUsd: usdToNumber(baseline),
      actualUsd: usdToNumber(spend),
      savingsUsd: usdToNumber(savings),
      savingsPercent: baseline > 0n ? Math.round((Number(savings) * 10_000) / Number(baseline)) / 100 : null,
    },
    flow: {
      primaryModels: roleModels(attempts, 'primary'),
      fallbackModels: roleModels(attempts, 'fallback'),
      pickedUp: Object.values(byStatus).reduce((a, b) => a + b, 0),
      waitingNow: i.waitingNow,
      primaryAttempts: role.primary.attempts,
      primaryAnswered: role.primary.answered,
      primaryCallFailures: role.primary.attempts - role.primary.answered,
      primaryPassed: role.primary.passed,
      primaryFailedValidation: role.primary.answered - role.primary.passed,
      handovers: handoverCount,
      fallbackAttempts: role.fallback.attempts,
      fallbackAnswered: role.fallback.answered,
      fallbackPassed: role.fallback.passed,
      fallbackFailedValidation: role.fallback.answered - role.fallback.passed,
      persisted: { succeeded: byStatus.succeeded ?? 0, invalid: byStatus.invalid ?? 0, failed: byStatus.failed ?? 0, rejected: byStatus.rejected ?? 0 },
      inProgress: byStatus.queued ?? 0,
    },
  };
}

/** The models that served `role`, most attempts first. */
function roleModels(attempts: readonly q.AttemptRow[], role: 'primary' | 'fallback'): RoleModel[] {
  return attempts
    .filter((a) => a.role === role)
    .map((a) => ({ model: a.model, attempts: a.attempts, answered: a.answered, passed: a.passed }))
    .sort((a, b) => b.attempts - a.attempts || a.model.localeCompare(b.model));
}
