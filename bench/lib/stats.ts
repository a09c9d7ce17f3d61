/** Small numeric helpers for the benchmark: percentiles and rounding. */
import { fmt } from './scenario.ts';

export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending array (`p` in 0..100); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : Number.NaN;
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    mean,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * Where a measured interval goes, as the results' flat metrics: `<prefix><Segment>P50Ms`, and
 * `…P99Ms` with `tails`.
 */
export function segmentMetrics(prefix: string, segments: Readonly<Record<string, Summary>>, tails = true): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, summary] of Object.entries(segments)) {
    const key = `${prefix}${name[0]!.toUpperCase()}${name.slice(1)}`;
    out[`${key}P50Ms`] = round(summary.p50, 1);
    if (tails) out[`${key}P99Ms`] = round(summary.p99, 1);
  }
  return out;
}

/** The same for the log: "label p50/p99, …" in the order of `labels`. */
export function describeSegments<K extends string>(labels: Readonly<Record<K, string>>, segments: Readonly<Record<K, Summary>>): string {
  return (Object.keys(labels) as K[]).map((k) => `${labels[k]} ${fmt(segments[k].p50)}/${fmt(segments[k].p99)}`).join(', ');
}

/** Summaries of each list of a record of lists. */
export function summarizeEach<K extends string>(lists: Readonly<Record<K, readonly number[]>>): Record<K, Summary> {
  return Object.fromEntries(Object.entries(lists).map(([k, v]) => [k, summarize(v as number[])])) as Record<K, Summary>;
}
