/**
 * The live figures' windows: the last hour, 24 hours, 7 and 30 days, through the admin API on real
 * Postgres, each counting exactly the audit rows inside it; `days=1` (24 hours) answers too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLogs } from '../db/schema.ts';
import type { RunningProducer } from '../producer/server.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { adminAuth, call, producerPool } from './helpers/producer.ts';

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let producer: RunningProducer;

const HOUR = 3_600_000;
/** One generated workflow per age: 30 minutes, 5 hours, 3 days, 20 days and 40 days ago. */
const AGES = [0.5 * HOUR, 5 * HOUR, 72 * HOUR, 480 * HOUR, 960 * HOUR];

beforeAll(async () => {
  h = await startHarness('stats-windows');
  pool = producerPool(h.env);
  producer = await pool.start();
  const now = Date.now();
  await h.db.db.insert(auditLogs).values(
    AGES.map((age, i) => ({
      action: 'WORKFLOW_GENERATED',
      severity: 'info',
      jobId: `window-${i}`,
      timestamp: new Date(now - age),
      // The second youngest came from the fallback: the 1-hour window has none, 24 hours has one.
      details: { generator_used: i === 1 ? 'claude-sonnet-4-6' : 'gpt-4o-mini', cost_usd: 0.001, validation_passed: true, fallback_reason: i === 1 ? 'schema' : null },
    })),
  );
});

afterAll(async () => {
  await pool?.closeAll();
  await h?.close();
});

const stats = (query: string) => call(producer.url, 'GET', `/v1/admin/stats?${query}`, { headers: adminAuth });

describe('stats windows', () => {
  it.each([
    ['window=1h', '1h', 1, 0],
    ['window=24h', '24h', 2, 1],
    ['window=7d', '7d', 3, 1],
    ['window=30d', '30d', 4, 1],
    ['days=1', '24h', 2, 1],
    ['days=30', '30d', 4, 1],
    ['', '7d', 3, 1],
  ])('%s counts the rows inside the window', async (query, window, total, fallbacks) => {
    const res = await stats(query);
    expect(res.status, res.text).toBe(200);
    expect(res.body.window).toBe(window);
    expect(res.body.fallbackRate).toMatchObject({ total, fallbacks });
  });

  it('refuses a window it does not offer, naming the field', async () => {
    const res = await stats('window=2h');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_REQUEST');
    expect(JSON.stringify(res.body.error.details)).toContain('/window');
  });
});
