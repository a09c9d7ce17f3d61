/**
 * Spend over time per model and the top spenders by user or agent, as the admin API and the
 * console show them: the database's rows made into a chart's buckets (zeros where nothing was
 * spent) and a ranked list with each one's share of the window's spend.
 */
import type { Database } from '../db/client.ts';
import { SPEND_BUCKETS, type SpenderKind, spendOverTime, topSpenders } from '../db/spend-queries.ts';
import { STATS_WINDOWS, type StatsWindow } from '../db/stats-queries.ts';
import { formatUsd, parseUsd, type Picodollars, usdToNumber } from '../shared/money.ts';

export interface SpendSeries {
  readonly model: string;
  /** Spend per bucket, the same length as `buckets`. */
  readonly costUsd: readonly number[];
  readonly attempts: readonly number[];
  readonly totalUsd: number;
  readonly totalUsdExact: string;
}

export interface SpendOverTimeView {
  readonly window: StatsWindow;
  readonly bucketSeconds: number;
  /** Each bucket's start (ISO 8601); the last is the bucket now falls in. */
  readonly buckets: readonly string[];
  /** One series per model that had attempts in the buckets, most spend first. */
  readonly series: readonly SpendSeries[];
  readonly totalUsd: number;
}

/** Sums of numeric(20,12) columns keep 12 decimals: exact picodollars. */
const usd = (text: string): Picodollars => parseUsd(text);

export async function spendOverTimeView(db: Database, window: StatsWindow): Promise<SpendOverTimeView> {
  const { stepSeconds, count } = SPEND_BUCKETS[window];
  const { firstBucket, rows } = await spendOverTime(db, window);
  const starts = Array.from({ length: count }, (_, i) => firstBucket.getTime() + i * stepSeconds * 1000);
  const perModel = new Map<string, { cost: Picodollars[]; attempts: number[] }>();
  for (const r of rows) {
    const i = Math.round((r.bucket.getTime() - firstBucket.getTime()) / (stepSeconds * 1000));
    // An attempt started in the moment between the two reads can land past the last bucket.
    if (i < 0 || i >= count) continue;
    const s = perModel.get(r.model) ?? { cost: Array<Picodollars>(count).fill(0n), attempts: Array<number>(count).fill(0) };
    s.cost[i]! += usd(r.costUsd);
    s.attempts[i]! += r.attempts;
    perModel.set(r.model, s);
  }
  const series = [...perModel.entries()]
    .map(([model, s]) => {
      const total = s.cost.reduce((a, b) => a + b, 0n);
      return { model, costUsd: s.cost.map(usdToNumber), attempts: s.attempts, total };
    })
    .sort((a, b) => (b.total > a.total ? 1 : b.total < a.total ? -1 : a.model.localeCompare(b.model)));
  const total = series.reduce((a, s) => a + s.total, 0n);
  return {
    window,
    bucketSeconds: stepSeconds,
    buckets: starts.map((t) => new Date(t).toISOString()),
    series: series.map(({ total: t, ...s }) => ({ ...s, totalUsd: usdToNumber(t), totalUsdExact: formatUsd(t) })),
    totalUsd: usdToNumber(total),
  };
}

export interface SpenderView {
  readonly window: StatsWindow;
  readonly by: SpenderKind;
  /** Every attempt's spend in the window, whoever it was for. */
  readonly totalUsd: number;
  readonly items: readonly {
    readonly id: string | null;
    readonly requests: number;
    readonly attempts: number;
    readonly costUsd: number;
    readonly costUsdExact: string;
    readonly sharePercent: number | null;
    readonly lastAt: string;
  }[];
}

export async function topSpendersView(db: Database, by: SpenderKind, window: StatsWindow, limit: number): Promise<SpenderView> {
  const { totalUsd, rows } = await topSpenders(db, by, STATS_WINDOWS[window], limit);
  const total = usd(totalUsd);
  return {
    window,
    by,
    totalUsd: usdToNumber(total),
    items: rows.map((r) => {
      const cost = usd(r.costUsd);
      return {
        id: r.id,
        requests: r.requests,
        attempts: r.attempts,
        costUsd: usdToNumber(cost),
        costUsdExact: formatUsd(cost),
        sharePercent: total > 0n ? Number((cost * 10_000n) / total) / 100 : null,
        lastAt: r.lastAt.toISOString(),
      };
    }),
  };
}
