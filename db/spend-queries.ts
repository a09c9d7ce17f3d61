/**
 * Spend over time and by whom, for the console: every priced attempt in generation_attempts
 * (wasted ones included, as in the per-model spend), bucketed per model, or summed per user or
 * agent of the request it served. Money comes back as exact decimal strings.
 */
import { sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import type { StatsWindow } from './stats-queries.ts';

/**
 * Each window's bucket width and count. Buckets are aligned to the epoch (date_bin), so a chart
 * read twice a minute apart shows the same buckets; the last one is the bucket now falls in.
 */
export const SPEND_BUCKETS: Readonly<Record<StatsWindow, { readonly stepSeconds: number; readonly count: number }>> = {
  '1h': { stepSeconds: 300, count: 12 },
  '24h': { stepSeconds: 3_600, count: 24 },
  '7d': { stepSeconds: 21_600, count: 28 },
  '30d': { stepSeconds: 86_400, count: 30 },
};

export interface SpendBucketRow {
  readonly bucket: Date;
  readonly model: string;
  readonly attempts: number;
  readonly costUsd: string;
}

/** Attempts and spend per model per bucket, from the first bucket's start; `firstBucket` from the database clock. */
export async function spendOverTime(db: Database, window: StatsWindow): Promise<{ firstBucket: Date; rows: SpendBucketRow[] }> {
  const { stepSeconds, count } = SPEND_BUCKETS[window];
  const step = sql`make_interval(secs => ${stepSeconds})`;
  const first = sql`date_bin(${step}, now(), 'epoch'::timestamptz) - ${count - 1} * ${step}`;
  const [start] = Array.from(await db.execute<{ first: Date | string }>(sql`SELECT ${first} AS first`));
  const firstBucket = new Date(start!.first);
  const raw = Array.from(
    await db.execute<{ bucket: Date | string; model: string; attempts: number; cost: string }>(
      sql`SELECT date_bin(${step}, started_at, 'epoch'::timestamptz) AS bucket, model,
                 count(*)::int AS attempts, sum(cost_usd)::text AS cost
            FROM generation_attempts
           WHERE started_at >= ${firstBucket.toISOString()}::timestamptz
           GROUP BY 1, 2
           ORDER BY 1, 2`,
    ),
  );
  return { firstBucket, rows: raw.map((r) => ({ bucket: new Date(r.bucket), model: String(r.model), attempts: Number(r.attempts), costUsd: String(r.cost) })) };
}

export type SpenderKind = 'user' | 'agent';

export interface SpenderRow {
  /** The user or agent id; null for requests without one. */
  readonly id: string | null;
  readonly requests: number;
  readonly attempts: number;
  readonly costUsd: string;
  readonly lastAt: Date;
}

const SPENDER_COLUMN = { user: sql.raw('g.user_id'), agent: sql.raw('g.agent_id') } as const;

/** The users or agents whose requests' attempts cost the most over the window, and the window's total. */
export async function topSpenders(db: Database, kind: SpenderKind, days: number, limit: number): Promise<{ totalUsd: string; rows: SpenderRow[] }> {
  const since = sql`now() - make_interval(secs => ${Math.round(days * 86_400)})`;
  const column = SPENDER_COLUMN[kind];
  const [rows, [total]] = await Promise.all([
    db.execute<{ id: string | null; requests: number; attempts: number; cost: string; last_at: Date | string }>(
      sql`SELECT ${column} AS id, count(DISTINCT a.job_id)::int AS requests, count(*)::int AS attempts,
                 sum(a.cost_usd)::text AS cost, max(a.started_at) AS last_at
            FROM generation_attempts a
            JOIN workflow_generations g ON g.job_id = a.job_id
           WHERE a.started_at > ${since}
           GROUP BY 1
           ORDER BY sum(a.cost_usd) DESC, 1 NULLS LAST
           LIMIT ${limit}`,
    ),
    db.execute<{ total: string }>(sql`SELECT coalesce(sum(cost_usd), 0)::text AS total FROM generation_attempts WHERE started_at > ${since}`),
  ]);
  return {
    totalUsd: String(total?.total ?? '0'),
    rows: Array.from(rows).map((r) => ({ id: r.id === null ? null : String(r.id), requests: Number(r.requests), attempts: Number(r.attempts), costUsd: String(r.cost), lastAt: new Date(r.last_at) })),
  };
}
