/**
 * `npm run bench`: every benchmark scenario, one after the other in this process tree (this
 * process hosts the simulated provider and the producer; workers are child processes), then a
 * table and `bench/results.json` with the machine, the versions and each number against its
 * target.
 *
 *   npm run bench                       full run (several minutes), writes bench/results.json
 *   npm run bench -- --smoke            every scenario tiny, in a few seconds; targets not asserted
 *   npm run bench -- --only overhead,scale-out
 *   npm run bench -- --only ladder      the escalation ladder against the seed (opt-in: three worlds)
 *   npm run bench -- --out /tmp/r.json  write the results elsewhere
 *   npm run bench -- --strict           exit 1 when a target is missed (full runs only)
 *
 * Exit code: 0 when every scenario ran and produced its numbers, 1 when one failed to run (or,
 * with --strict, missed a target).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { watchOtherCpu } from './lib/cpu.ts';
import { BENCH_DATABASE_URL, BENCH_REDIS_URL, IMAGE_ENV, WORKER_HEAP_CAP_MB, WORKER_NODE_OPTIONS_EXTRA } from './lib/env.ts';
import { machineInfo, versions } from './lib/machine.ts';
import { fmt, type Mode, type Scenario, type ScenarioOutcome } from './lib/scenario.ts';
import { round } from './lib/stats.ts';
import { addedLatency } from './scenarios/added-latency.ts';
import { fallbackHandover } from './scenarios/fallback-handover.ts';
import { ladder } from './scenarios/ladder.ts';
import { latencyBound } from './scenarios/latency-bound.ts';
import { overhead } from './scenarios/overhead.ts';
import { rateLimited } from './scenarios/rate-limited.ts';
import { scaleOut } from './scenarios/scale-out.ts';

export const SCENARIOS: readonly Scenario[] = [overhead, addedLatency, latencyBound, fallbackHandover, rateLimited, scaleOut, ladder];

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

interface ScenarioReport extends Partial<ScenarioOutcome> {
  readonly name: string;
  readonly title: string;
  readonly targetText: string;
  readonly durationSeconds: number;
  /** 1-minute load average when the scenario started and ended (the benchmark's own work included). */
  readonly loadAverage: readonly [number, number];
  /**
   * CPU used meanwhile by processes outside this benchmark, Redis and Postgres, and interrupt
   * handling not charged to those, in % of all cores: anything above a few % competed with the
   * numbers above.
   */
  readonly otherCpuPercent: number;
  /**
   * Interrupt handling (irq + softirq) meanwhile, in % of all cores, for information: mostly the
   * loopback traffic of the run itself (HTTP, Redis, Postgres), partly inside its processes' time.
   */
  readonly interruptCpuPercent: number;
  /** Time the hypervisor gave to other virtual machines meanwhile, in % of all cores. */
  readonly stealCpuPercent: number;
  /** null when no target applies, or in smoke mode (targets are reported, never asserted). */
  readonly pass: boolean | null;
  readonly error?: string;
}

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    strict: { type: 'boolean', default: false },
  },
});
const mode: Mode = args.smoke ? 'smoke' : 'full';
const out = resolve(args.out ?? (mode === 'full' ? join(BENCH_DIR, 'results.json') : join(os.tmpdir(), 'workflow-orchestrator-bench-smoke.json')));
const only = args.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
if (unknown.length) {
  console.error(`bench: unknown scenario ${unknown.join(', ')} (one of ${SCENARIOS.map((s) => s.name).join(', ')})`);
  process.exit(2);
}
const selected = SCENARIOS.filter((s) => (only ? only.includes(s.name) : !s.optIn));

const progress = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

const redis = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
const sql = postgres(BENCH_DATABASE_URL, { max: 1, onnotice: () => {} });
let info;
try {
  await redis.connect();
  info = { machine: machineInfo(), versions: await versions(redis, sql) };
} catch (err) {
  console.error(`bench: Redis (${BENCH_REDIS_URL}) and Postgres (${BENCH_DATABASE_URL}) must be running: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
} finally {
  redis.disconnect();
  await sql.end({ timeout: 5 });
}
progress(`${mode} run of ${selected.map((s) => s.name).join(', ')} on ${info.machine.cores} × ${info.machine.cpuModel}, Node ${info.versions.node}, Redis ${info.versions.redis}, Postgres ${info.versions.postgres}, BullMQ ${info.versions.bullmq}`);
progress(`workers run with NODE_OPTIONS=${IMAGE_ENV.NODE_OPTIONS ?? ''}${WORKER_NODE_OPTIONS_EXTRA ? ' (BENCH_WORKER_NODE_OPTIONS added to the image\'s: not as production starts them)' : ' (the image\'s, as production starts them)'}`);

const started = Date.now();
const reports: ScenarioReport[] = [];
for (const scenario of selected) {
  const t0 = Date.now();
  const load0 = round(os.loadavg()[0]!, 2);
  const others = watchOtherCpu(info.machine.cores);
  const meta = () => {
    const share = others();
    return {
      durationSeconds: (Date.now() - t0) / 1000,
      loadAverage: [load0, round(os.loadavg()[0]!, 2)] as const,
      otherCpuPercent: round(share.otherPercent),
      interruptCpuPercent: round(share.interruptPercent),
      stealCpuPercent: round(share.stealPercent),
    };
  };
  progress(`${scenario.name}: starting (load average ${load0})`);
  try {
    const outcome = await scenario.run(mode, (m) => progress(`${scenario.name}: ${m}`));
    const pass = mode === 'smoke' || outcome.targets.length === 0 ? null : outcome.targets.every((t) => t.pass);
    const m = meta();
    reports.push({ name: scenario.name, title: scenario.title, targetText: scenario.targetText, ...outcome, pass, ...m });
    progress(`${scenario.name}: ${outcome.summary} (meanwhile, of all CPU: others ${fmt(m.otherCpuPercent, 0)}% (interrupts ${fmt(m.interruptCpuPercent, 0)}% in all), steal ${fmt(m.stealCpuPercent, 0)}%)`);
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    reports.push({ name: scenario.name, title: scenario.title, targetText: scenario.targetText, pass: mode === 'smoke' ? null : false, error, ...meta() });
    progress(`${scenario.name}: FAILED TO RUN\n${error}`);
  }
}

const results = {
  generatedAt: new Date().toISOString(),
  mode,
  durationSeconds: (Date.now() - started) / 1000,
  machine: info.machine,
  versions: info.versions,
  /** How the worker processes were started: the image's NODE_OPTIONS (Dockerfile ENV), plus BENCH_WORKER_NODE_OPTIONS if set. */
  workers: { nodeOptions: IMAGE_ENV.NODE_OPTIONS ?? '', heapCapMb: WORKER_HEAP_CAP_MB, asInProduction: !WORKER_NODE_OPTIONS_EXTRA },
  scenarios: reports,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);

const verdict = (r: ScenarioReport) => (r.error ? 'ERROR' : r.pass === null ? (mode === 'smoke' ? 'ran' : '–') : r.pass ? 'pass' : 'FAIL');
console.log(`\nBenchmark (${mode}), ${info.machine.cores} cores (${info.machine.cpuModel}), Node ${info.versions.node}, Redis ${info.versions.redis}, Postgres ${info.versions.postgres}, BullMQ ${info.versions.bullmq}\n`);
console.log('| scenario | measured | target | result |');
console.log('|---|---|---|---|');
for (const r of reports) console.log(`| ${r.title} | ${r.error ? 'did not run' : r.summary} | ${r.targetText} | ${verdict(r)} |`);
const busy = reports.filter((r) => r.otherCpuPercent + r.stealCpuPercent > 10);
if (busy.length) {
  const list = busy.map((r) => `${r.name} ${fmt(r.otherCpuPercent + r.stealCpuPercent, 0)}%`).join(', ');
  console.log(`\nNote: other processes and other virtual machines (steal) took a share of the CPU during ${list}; those numbers understate the code.`);
}
console.log(`\n${fmt(results.durationSeconds, 0)} s in all; results written to ${out}`);

const errored = reports.some((r) => r.error);
const missed = mode === 'full' && reports.some((r) => r.pass === false);
process.exit(errored || (args.strict && missed) ? 1 : 0);
