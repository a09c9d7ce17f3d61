/**
 * The escalation ladder against the seed's policy, at one fault mix, side by side in one run:
 *   seed          a validation failure goes straight to the fallback (no repair, chain of one);
 *   repair1       the same model re-asked once with its errors first, chain of one;
 *   repair1-chain2 re-asked once, then a chain of two (Claude Sonnet 4.6, then GPT-6.1 Sol).
 * Each configuration gets a world of its own (schema, queues, simulator with the same seed and
 * faults, one worker process) with its settings stored before the worker starts, and the same
 * requests at the same rate. From the rows: cost per successful workflow (every attempt of every
 * request, failed ones included, over the successes), success rate, p50/p95 latency (enqueued to
 * finished) and model calls per request. The simulator's repair success rate is an assumption,
 * reported with the figures. Opt-in (`--only ladder`): three worlds take a while.
 */
import { createBenchEnv } from '../lib/env.ts';
import { benchRequest, enqueueAtRate, waitForFinalRows } from '../lib/load.ts';
import { fmt, type Mode, type Scenario } from '../lib/scenario.ts';
import { percentile, summarize } from '../lib/stats.ts';
import type { FaultConfig } from '../../test/simulator/faults.ts';
import type { SettingsWrite } from '../../shared/settings.ts';

const SIZES = {
  full: { ratePerSecond: 20, requests: 400, simulatorLatencyMs: 200 },
  smoke: { ratePerSecond: 50, requests: 150, simulatorLatencyMs: 20 },
} as const;

/** The assumption stated next to the figures: a model re-asked with its errors answers valid this often. */
export const LADDER_REPAIR_SUCCESS_RATE = 0.7;

/**
 * The fault mix: the cheap primary fails validation on 15% of requests (schema 8%, semantic 5%,
 * truncated 2%) and its call on 2% (server error); the fallback fails validation on 5% and its
 * call on 2%; the third step fails validation on 3%.
 */
export const LADDER_FAULTS: FaultConfig = {
  'gpt-4o-mini': { schema: 0.08, semantic: 0.05, truncated: 0.02, server_error: 0.02, repairSuccessRate: LADDER_REPAIR_SUCCESS_RATE },
  'claude-sonnet-4-6': { schema: 0.05, server_error: 0.02, repairSuccessRate: LADDER_REPAIR_SUCCESS_RATE },
  'gpt-6.1-sol': { schema: 0.03, repairSuccessRate: LADDER_REPAIR_SUCCESS_RATE },
};

const BASE = { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true } as const;
export const LADDER_CONFIGS: readonly { readonly name: string; readonly label: string; readonly settings: SettingsWrite }[] = [
  { name: 'seed', label: "the seed's policy (no repair, chain of one)", settings: { ...BASE, fallbackChain: ['claude-sonnet-4-6'], repairAttempts: 0 } },
  { name: 'repair1', label: 'repair 1, chain of one', settings: { ...BASE, fallbackChain: ['claude-sonnet-4-6'], repairAttempts: 1 } },
  { name: 'repair1Chain2', label: 'repair 1, chain of two (Claude Sonnet 4.6, GPT-6.1 Sol)', settings: { ...BASE, fallbackChain: ['claude-sonnet-4-6', 'gpt-6.1-sol'], repairAttempts: 1 } },
];

interface ConfigFigures {
  readonly requests: number;
  readonly succeeded: number;
  readonly successRatePercent: number;
  readonly costPerSuccessUsd: number;
  readonly latencyP50Ms: number;
  readonly latencyP95Ms: number;
  readonly callsPerRequest: number;
  /** Repair calls the simulator saw (0: the worker made none, whatever the settings say). */
  readonly repairCalls: number;
}

async function runConfig(mode: Mode, config: (typeof LADDER_CONFIGS)[number], log: (m: string) => void): Promise<ConfigFigures> {
  const size = SIZES[mode];
  const env = await createBenchEnv({ label: `ladder ${config.name}`, latencyMs: size.simulatorLatencyMs, faults: LADDER_FAULTS });
  try {
    await env.db.settings.update(config.settings, 'bench');
    await env.startWorkers(1);
    log(`${config.label}: ${size.requests} requests at ${size.ratePerSecond}/s`);
    const run = await enqueueAtRate(size.ratePerSecond, size.requests, (i) => env.client.enqueue(benchRequest(i)));
    await waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], size.requests, 300_000);
    const rows = await env.db.sql<{ status: string; latency_ms: number; calls: number }[]>`
      select g.status,
        (extract(epoch from (g.finished_at - g.enqueued_at)) * 1000)::float8 as latency_ms,
        (select count(*)::int from generation_attempts a where a.job_id = g.job_id) as calls
      from workflow_generations g where g.job_id = any(${run.ids})`;
    const succeeded = rows.filter((r) => r.status === 'succeeded').length;
    // Every attempt's price, failed ones and repairs included, summed exactly by Postgres.
    const [spent] = await env.db.sql<{ usd: string }[]>`select coalesce(sum(cost_usd), 0)::text as usd from generation_attempts where job_id = any(${run.ids})`;
    const spend = Number(spent!.usd);
    const latency = summarize(rows.map((r) => r.latency_ms));
    const p95 = percentile([...rows.map((r) => r.latency_ms)].sort((a, b) => a - b), 95);
    const repairs = env.sim.stats().repairs;
    return {
      requests: rows.length,
      succeeded,
      successRatePercent: rows.length ? (succeeded * 100) / rows.length : Number.NaN,
      costPerSuccessUsd: succeeded ? spend / succeeded : Number.NaN,
      latencyP50Ms: latency.p50,
      latencyP95Ms: p95,
      callsPerRequest: rows.length ? rows.reduce((a, r) => a + r.calls, 0) / rows.length : Number.NaN,
      repairCalls: Object.values(repairs).reduce((a, r) => a + r.calls, 0),
    };
  } finally {
    await env.close();
  }
}

export const ladder: Scenario = {
  name: 'ladder',
  title: 'escalation ladder vs the seed',
  targetText: 'reported side by side (no target)',
  optIn: true,
  async run(mode: Mode, log) {
    const figures: Record<string, ConfigFigures> = {};
    for (const config of LADDER_CONFIGS) figures[config.name] = await runConfig(mode, config, log);
    const metrics: Record<string, number> = { repairSuccessRatePercent: LADDER_REPAIR_SUCCESS_RATE * 100 };
    for (const [name, f] of Object.entries(figures)) for (const [k, v] of Object.entries(f)) metrics[`${name}.${k}`] = v;
    const line = (name: string) => {
      const f = figures[name]!;
      return `${name}: $${fmt(f.costPerSuccessUsd, 6)} per success, ${fmt(f.successRatePercent, 2)}% ok, p50 ${fmt(f.latencyP50Ms, 0)} ms, p95 ${fmt(f.latencyP95Ms, 0)} ms, ${fmt(f.callsPerRequest, 3)} calls/request, ${f.repairCalls} repair calls`;
    };
    const notes = [`the simulator's repair success rate: ${LADDER_REPAIR_SUCCESS_RATE * 100}% (an assumption)`];
    for (const c of LADDER_CONFIGS) {
      if (c.settings.repairAttempts && figures[c.name]!.repairCalls === 0) notes.push(`${c.name}: the worker made no repair call: the ladder is not wired into the processor yet, so these figures are the seed's policy`);
    }
    for (const c of LADDER_CONFIGS) log(line(c.name));
    return {
      params: {
        requests: SIZES[mode].requests,
        ratePerSecond: SIZES[mode].ratePerSecond,
        simulatorLatencyMs: SIZES[mode].simulatorLatencyMs,
        workerProcesses: 1,
        faults: 'gpt-4o-mini: schema 8%, semantic 5%, truncated 2%, server_error 2%; claude-sonnet-4-6: schema 5%, server_error 2%; gpt-6.1-sol: schema 3%',
        repairSuccessRate: LADDER_REPAIR_SUCCESS_RATE,
        configs: Object.fromEntries(LADDER_CONFIGS.map((c) => [c.name, c.label])),
      },
      metrics,
      targets: [],
      summary: LADDER_CONFIGS.map((c) => `${c.name} $${fmt(figures[c.name]!.costPerSuccessUsd, 6)}/ok, ${fmt(figures[c.name]!.successRatePercent, 1)}% ok`).join('; '),
      notes,
    };
  },
};
