/**
 * http-ab: do the worker's HTTP speed-ups pay at a realistic model latency? One environment (one
 * schema, one simulator at 1.5 s ± 10%), two worker processes with 500 slots each (1,000 jobs in
 * flight), and phases of each variant interleaved in rounds whose order alternates (A B C D,
 * then D C B A, …) so that drift of this shared machine falls on every variant alike:
 *
 *   today      worker/main.ts as production runs it: worker/llm/node-http-fetch.ts under both
 *              SDKs, openai with the debug-log patch of scripts/patch-dependencies.mjs
 *   sdkFetch   the SDKs' own default fetch (bench/sdk-fetch-worker.ts), openai patched
 *   unpatched  node-http-fetch, openai without the patch (bench/lib/unpatched-openai.ts)
 *   plain      both removed: the SDKs' own fetch and an unpatched openai
 *   uncoalesced  only with BENCH_AB_VARIANTS naming it: shared/redis.ts without its patched
 *              socket.write (bench/lib/redis-uncoalesced-hook.mjs)
 *
 * BENCH_AB_VARIANTS=sdkFetch,uncoalesced picks variants (today always runs), BENCH_AB_ROUNDS
 * the number of rounds, BENCH_AB_LATENCY_MS the simulator's latency (full runs).
 * Each phase reports throughput, the peak RSS of each worker, CPU per job (the workers, and
 * every party: workers, this process with the simulator, Redis, Postgres), and the CPU that
 * processes outside the benchmark used meanwhile; a phase they disturbed is run once more and
 * the less disturbed of the two kept. Opt-in: `npm run bench -- --only http-ab`.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { type CpuSample, cpuPerJob, type MachineShare, sampleCpu, totalCpuMs, watchOtherCpu } from '../lib/cpu.ts';
import { type BenchEnv, createBenchEnv } from '../lib/env.ts';
import { cpuTimeMs } from '../lib/proc.ts';
import { jobTimings, prefill, throughputOf, waitForFinalRows } from '../lib/load.ts';
import { fmt, type Mode, type Scenario } from '../lib/scenario.ts';
import { round, summarize } from '../lib/stats.ts';
import { prepareUnpatchedOpenAi, type UnpatchedOpenAi } from '../lib/unpatched-openai.ts';

const SIZES = {
  full: { rounds: Number(process.env.BENCH_AB_ROUNDS ?? 4), jobsPerPhase: 6_000, processes: 2, concurrency: 500, simulatorLatencyMs: Number(process.env.BENCH_AB_LATENCY_MS ?? 1_500) },
  smoke: { rounds: 1, jobsPerPhase: 30, processes: 2, concurrency: 10, simulatorLatencyMs: 50 },
} as const;

/** CPU of processes outside the benchmark plus steal, in % of all cores, above which a phase is run again. */
const DISTURBED_PERCENT = 15;

type VariantKey = 'today' | 'sdkFetch' | 'unpatched' | 'plain' | 'uncoalesced';

interface Variant {
  readonly key: VariantKey;
  readonly label: string;
  readonly entry: string;
  readonly unpatchedOpenAi: boolean;
  readonly uncoalescedRedis: boolean;
}

const VARIANTS: readonly Variant[] = [
  { key: 'today', label: 'A today', entry: 'worker/main.ts', unpatchedOpenAi: false, uncoalescedRedis: false },
  { key: 'sdkFetch', label: 'B SDK fetch', entry: 'bench/sdk-fetch-worker.ts', unpatchedOpenAi: false, uncoalescedRedis: false },
  { key: 'unpatched', label: 'C openai unpatched', entry: 'worker/main.ts', unpatchedOpenAi: true, uncoalescedRedis: false },
  { key: 'plain', label: 'D both removed', entry: 'bench/sdk-fetch-worker.ts', unpatchedOpenAi: true, uncoalescedRedis: false },
  { key: 'uncoalesced', label: 'E Redis writes not coalesced', entry: 'worker/main.ts', unpatchedOpenAi: false, uncoalescedRedis: true },
];

/** The variants to run: BENCH_AB_VARIANTS (comma-separated keys; `today` always runs), else A–D. */
function selectedVariants(): readonly Variant[] {
  const keys = process.env.BENCH_AB_VARIANTS?.split(',').map((k) => k.trim());
  if (!keys) return VARIANTS.filter((v) => v.key !== 'uncoalesced');
  const unknown = keys.filter((k) => !VARIANTS.some((v) => v.key === k));
  if (unknown.length) throw new Error(`BENCH_AB_VARIANTS: unknown ${unknown.join(', ')} (of ${VARIANTS.map((v) => v.key).join(', ')})`);
  return VARIANTS.filter((v) => v.key === 'today' || keys.includes(v.key));
}

const REDIS_HOOK = fileURLToPath(new URL('../lib/redis-uncoalesced-hook.mjs', import.meta.url));

/** Environment overrides that give a worker process its variant's preloaded hooks. */
function variantEnv(variant: Variant, baseNodeOptions: string | undefined, unpatched: UnpatchedOpenAi): Record<string, string> {
  const options = [baseNodeOptions, variant.unpatchedOpenAi ? unpatched.nodeOption : '', variant.uncoalescedRedis ? `--import=${REDIS_HOOK}` : ''].filter(Boolean);
  return { ...(variant.unpatchedOpenAi ? unpatched.env : {}), NODE_OPTIONS: options.join(' ') };
}

/** Throws unless the worker's output shows it ran exactly its variant's hooks. */
function checkVariant(variant: Variant, pid: number, output: string, unpatched: UnpatchedOpenAi): void {
  const ran = { unpatchedOpenAi: unpatched.loadedBy(output), uncoalescedRedis: output.includes('bench: Redis writes not coalesced') };
  for (const hook of ['unpatchedOpenAi', 'uncoalescedRedis'] as const) {
    if (ran[hook] !== variant[hook]) throw new Error(`${variant.key}: worker ${pid} ${variant[hook] ? 'did not run' : 'ran'} the ${hook} hook`);
  }
}

interface Phase {
  readonly variant: VariantKey;
  readonly round: number;
  readonly jobsPerSecond: number;
  /** The larger of the workers' peak RSS. */
  readonly peakRssMb: number;
  readonly cpuMsPerJobWorkers: number;
  readonly cpuMsPerJobAll: number;
  /** Processes outside the benchmark + steal, % of all cores, from resume to the last result. */
  readonly otherPercent: number;
  readonly loadAverage: number;
}

type Size = (typeof SIZES)[Mode];

async function runPhase(env: BenchEnv, size: Size, variant: Variant, roundNo: number, tag: string, alreadyDone: number, unpatched: UnpatchedOpenAi): Promise<Phase> {
  await env.queue.pause();
  const ids = await prefill(env.queue, size.jobsPerPhase, tag);
  const overrides = { WORKER_CONCURRENCY: String(size.concurrency), ...variantEnv(variant, env.env.NODE_OPTIONS, unpatched) };
  const workers = await env.startWorkers(size.processes, overrides, variant.entry);
  const pids = workers.map((w) => w.pid);
  const loadAverage = os.loadavg()[0]!;
  let cpu: CpuSample;
  let share: MachineShare;
  let rss: number[];
  try {
    const others = watchOtherCpu(os.cpus().length, () => pids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0));
    const cpu0 = await sampleCpu(env.redis, pids);
    await env.queue.resume();
    await waitForFinalRows(env.db.sql, [env.queue, env.fallbackQueue], alreadyDone + size.jobsPerPhase, 600_000);
    cpu = cpuPerJob(cpu0, await sampleCpu(env.redis, pids), size.jobsPerPhase);
    share = others();
    rss = workers.map((w) => w.peakRssMb());
    for (const w of workers) checkVariant(variant, w.pid, w.output(), unpatched);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
  const { perSecond } = throughputOf(await jobTimings(env.queue, ids), size.jobsPerPhase);
  return {
    variant: variant.key,
    round: roundNo,
    jobsPerSecond: perSecond,
    peakRssMb: Math.max(...rss),
    cpuMsPerJobWorkers: cpu.workersMs,
    cpuMsPerJobAll: totalCpuMs(cpu),
    otherPercent: share.otherPercent + share.stealPercent,
    loadAverage,
  };
}

const describe = (p: Phase) =>
  `${fmt(p.jobsPerSecond, 0)} jobs/s, peak RSS ${fmt(p.peakRssMb, 0)} MB, CPU/job workers ${fmt(p.cpuMsPerJobWorkers, 2)} ms, all ${fmt(p.cpuMsPerJobAll, 2)} ms; others ${fmt(p.otherPercent, 0)}%, load ${fmt(p.loadAverage, 2)}`;

/** Round r runs the variants forwards when r is odd, backwards when even. */
const orderOf = (variants: readonly Variant[], roundNo: number) => (roundNo % 2 === 1 ? variants : [...variants].reverse());

const median = (values: readonly number[]) => summarize(values).p50;
const mean = (values: readonly number[]) => summarize(values).mean;

export const httpAb: Scenario = {
  name: 'http-ab',
  title: 'speed-ups A/B at realistic model latency',
  targetText: 'a piece stays if it gains ≥ 10% throughput or peak RSS',
  optIn: true,
  async run(mode: Mode, log) {
    const size = SIZES[mode];
    const variants = selectedVariants();
    log(
      `${size.rounds} round(s) of ${variants.map((v) => v.label).join(', ')}; ${size.jobsPerPhase} jobs a phase, ${size.processes} workers × ${size.concurrency} slots, simulator at ${size.simulatorLatencyMs} ms ± 10%`,
    );
    const unpatched = prepareUnpatchedOpenAi();
    const env = await createBenchEnv({ label: 'httpab', latencyMs: size.simulatorLatencyMs });
    const kept: Phase[] = [];
    const notes: string[] = [];
    let done = 0;
    try {
      for (let r = 1; r <= size.rounds; r++) {
        for (const variant of orderOf(variants, r)) {
          let phase = await runPhase(env, size, variant, r, `ab${r}${variant.key}`, done, unpatched);
          done += size.jobsPerPhase;
          log(`round ${r} ${variant.label}: ${describe(phase)}`);
          if (mode === 'full' && phase.otherPercent > DISTURBED_PERCENT) {
            const again = await runPhase(env, size, variant, r, `ab${r}${variant.key}again`, done, unpatched);
            done += size.jobsPerPhase;
            log(`round ${r} ${variant.label} again (others took ${fmt(phase.otherPercent, 0)}%): ${describe(again)}`);
            const [keep, drop] = again.otherPercent < phase.otherPercent ? [again, phase] : [phase, again];
            notes.push(`round ${r} ${variant.label}: run twice (others ${fmt(phase.otherPercent, 0)}%, then ${fmt(again.otherPercent, 0)}%); kept ${describe(keep)}; dropped ${describe(drop)}`);
            phase = keep;
          }
          kept.push(phase);
        }
      }
      const [row] = await env.db.sql<{ succeeded: number }[]>`select count(*) filter (where status = 'succeeded')::int as succeeded from workflow_generations`;
      if ((row?.succeeded ?? 0) !== done) notes.push(`${row?.succeeded ?? 0} of ${done} requests succeeded`);
    } finally {
      await env.close();
      unpatched.remove();
    }

    const metrics: Record<string, number> = {};
    const of = (key: VariantKey) => kept.filter((p) => p.variant === key);
    for (const v of variants) {
      const phases = of(v.key);
      metrics[`${v.key}JobsPerSecond`] = round(median(phases.map((p) => p.jobsPerSecond)));
      metrics[`${v.key}PeakRssMb`] = round(median(phases.map((p) => p.peakRssMb)));
      metrics[`${v.key}CpuMsPerJobWorkers`] = round(median(phases.map((p) => p.cpuMsPerJobWorkers)), 3);
      metrics[`${v.key}CpuMsPerJobAll`] = round(median(phases.map((p) => p.cpuMsPerJobAll)), 3);
      metrics[`${v.key}OtherCpuPercentMax`] = round(Math.max(...phases.map((p) => p.otherPercent)));
    }
    // What today's path gains over each variant, from the rounds' paired ratios (each pair ran
    // minutes apart at most): throughput > 0 means today's path is faster; in the summary, RSS
    // and CPU < 0 mean today's path is smaller.
    const pieces: string[] = [];
    for (const v of variants.slice(1)) {
      const pairs = kept.filter((p) => p.variant === 'today').map((a) => [a, of(v.key).find((b) => b.round === a.round)!] as const);
      const throughputGains = summarize(pairs.map(([a, b]) => (a.jobsPerSecond / b.jobsPerSecond - 1) * 100));
      const rssGain = mean(pairs.map(([a, b]) => 1 - a.peakRssMb / b.peakRssMb)) * 100;
      const cpuGains = summarize(pairs.map(([a, b]) => (1 - a.cpuMsPerJobWorkers / b.cpuMsPerJobWorkers) * 100));
      const key = v.key[0]!.toUpperCase() + v.key.slice(1);
      metrics[`throughputGainOver${key}Percent`] = round(throughputGains.mean);
      metrics[`throughputGainOver${key}MinPercent`] = round(throughputGains.min);
      metrics[`throughputGainOver${key}MaxPercent`] = round(throughputGains.max);
      metrics[`peakRssGainOver${key}Percent`] = round(rssGain);
      metrics[`workerCpuGainOver${key}Percent`] = round(cpuGains.mean);
      metrics[`workerCpuGainOver${key}MinPercent`] = round(cpuGains.min);
      metrics[`workerCpuGainOver${key}MaxPercent`] = round(cpuGains.max);
      const signed = (n: number) => `${n >= 0 ? '+' : '−'}${fmt(Math.abs(n))}`;
      pieces.push(
        `vs ${v.label}: throughput ${signed(throughputGains.mean)}% (rounds ${signed(throughputGains.min)}…${signed(throughputGains.max)}), peak RSS ${signed(-rssGain)}%, worker CPU/job ${signed(-cpuGains.mean)}% (rounds ${signed(-cpuGains.max)}…${signed(-cpuGains.min)})`,
      );
    }
    for (const p of kept) notes.push(`round ${p.round} ${VARIANTS.find((v) => v.key === p.variant)!.label}: ${describe(p)}`);
    return {
      params: { ...size, cores: os.cpus().length, variants: variants.map((v) => `${v.key}: ${v.entry}${v.unpatchedOpenAi ? ' + unpatched openai' : ''}${v.uncoalescedRedis ? ' + Redis writes not coalesced' : ''}`), disturbedPercent: DISTURBED_PERCENT },
      metrics,
      targets: [],
      summary: `today ${fmt(metrics.todayJobsPerSecond!, 0)} jobs/s, ${fmt(metrics.todayPeakRssMb!, 0)} MB; ${pieces.join('; ')}`,
      notes,
    };
  },
};
