/** What a benchmark scenario is and what it reports. */

export type Mode = 'full' | 'smoke';

export interface TargetResult {
  /** Key in `metrics` the target is checked against. */
  readonly metric: string;
  /** As in the issue, e.g. "p50 ≤ 5 ms". */
  readonly label: string;
  readonly op: '>=' | '<=';
  readonly target: number;
  readonly actual: number;
  readonly pass: boolean;
}

export interface ScenarioOutcome {
  /** The knobs of this run (job counts, rates, latencies, concurrency, processes). */
  readonly params: Readonly<Record<string, unknown>>;
  /** Every number measured, with the unit in the key (`p50Ms`, `jobsPerSecond`). */
  readonly metrics: Readonly<Record<string, number>>;
  readonly targets: readonly TargetResult[];
  /** One line for the table's "measured" column. */
  readonly summary: string;
  readonly notes?: readonly string[];
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  /** The target as the table states it. */
  readonly targetText: string;
  /** Runs only when named with `--only` (a long comparison, not part of the regular run). */
  readonly optIn?: boolean;
  run(mode: Mode, log: (message: string) => void): Promise<ScenarioOutcome>;
}

export function target(metric: string, label: string, actual: number, op: '>=' | '<=', value: number): TargetResult {
  const pass = Number.isFinite(actual) && (op === '>=' ? actual >= value : actual <= value);
  return { metric, label, op, target: value, actual, pass };
}

/** `1234.5` → `1,234.5`; NaN → `n/a`. */
export function fmt(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: digits });
}
