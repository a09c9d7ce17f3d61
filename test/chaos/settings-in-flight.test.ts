/**
 * Settings changed while jobs are in flight: each request uses one consistent set of settings
 * from its first pick-up to its end (fallback included), recorded in every attempt row.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { goal, type Harness, PLUGINS, startHarness } from '../helpers/harness.ts';
import { expectCleanLedger } from '../helpers/ledger.ts';
import { startTsProcess, waitForOutput } from '../helpers/processes.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('settingsrace', {
    env: { SETTINGS_REFRESH_MS: '50', WORKER_CONCURRENCY: '30', LOG_LEVEL: 'info' },
    faults: { '*': { schema: 0.3 } },
  });
  h.sim.setLatency(150);
});
afterAll(async () => {
  await h?.close();
});

const CONFIGS = [
  { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true },
  { primaryModel: 'gpt-4.1-mini', fallbackModel: 'claude-haiku-4-5', enableFallback: true },
  { primaryModel: 'claude-opus-4-8', fallbackModel: 'gpt-4o', enableFallback: true },
  { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: false },
];

it('flipping the settings every 100 ms never mixes two sets within one request', async () => {
  const workers = [startTsProcess('worker/main.ts', h.env), startTsProcess('worker/main.ts', h.env)];
  let flipping = true;
  try {
    await Promise.all(workers.map((w) => waitForOutput(w, /worker started/)));
    const flipper = (async () => {
      for (let i = 0; flipping; i++) {
        await h.db.settings.update(CONFIGS[i % CONFIGS.length]!, 'chaos');
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const ids = await Promise.all(Array.from({ length: 150 }, (_, i) => h.client.enqueue({ userId: 'u', agentId: `a${i}`, userGoal: goal(`Settings race ${i}`), availablePlugins: PLUGINS })));
    const results = await Promise.allSettled(ids.map((id) => h.client.waitForResult(id, { timeoutMs: 90_000 })));
    flipping = false;
    await flipper;
    expect(results.filter((r) => r.status === 'rejected' && !/GENERATION_INVALID/.test(String(r.reason)))).toEqual([]);
    await expectCleanLedger(h.db, ids, [h.rawQueue, h.fallbackQueue]);

    const rows = await h.db.sql`
      select g.job_id, g.settings as fixed, a.settings as used, a.model, a.role
      from workflow_generations g join generation_attempts a using (job_id)
      where g.job_id in ${h.db.sql(ids)}`;
    const mixed = rows.filter((r) => JSON.stringify(r.fixed) !== JSON.stringify(r.used));
    expect(mixed).toEqual([]);
    const wrongModel = rows.filter((r) => {
      const s = r.fixed as { primaryModel: string; fallbackModel: string };
      return r.model !== (r.role === 'primary' ? s.primaryModel : s.fallbackModel);
    });
    expect(wrongModel).toEqual([]);
    // The run really did see several sets of settings.
    const seen = new Set(rows.map((r) => JSON.stringify(r.fixed)));
    expect(seen.size).toBeGreaterThan(1);
  } finally {
    flipping = false;
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
  }
});
