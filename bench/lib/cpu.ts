/**
 * Where the CPU of a run went: the worker processes, this process (producer and simulator),
 * Redis and Postgres. Redis and Postgres are shared with anything else running on the machine,
 * so their share is an upper bound when other work runs at the same time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { CLOCK_TICKS_PER_SECOND, cpuTimeMs, statCpuMs } from './proc.ts';

export interface CpuSample {
  readonly workersMs: number;
  readonly benchMs: number;
  readonly redisMs: number;
  readonly postgresMs: number;
}

/**
 * CPU time of every process whose command name is one of `names` (Linux /proc), with that of
 * their exited children: a Postgres backend whose connection closed (a worker stopped) counts on.
 */
function cpuOfProcessesNamed(names: ReadonlySet<string>): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (names.has(stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')))) total += statCpuMs(stat, true);
    } catch {
      // The process exited while we looked.
    }
  }
  return total;
}

const POSTGRES = new Set(['postgres']);
const POSTGRES_AND_REDIS = new Set(['postgres', 'redis-server']);

/** Sum of the CPU time of every party in a sample. */
export function totalCpuMs(c: CpuSample): number {
  return c.workersMs + c.benchMs + c.redisMs + c.postgresMs;
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (key: string) => Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_sys') + field('used_cpu_user')) * 1000;
}

export async function sampleCpu(redis: Redis, workerPids: readonly number[]): Promise<CpuSample> {
  const bench = process.cpuUsage();
  return {
    workersMs: workerPids.reduce((s, pid) => s + cpuTimeMs(pid), 0),
    benchMs: (bench.user + bench.system) / 1000,
    redisMs: await redisCpuMs(redis),
    postgresMs: cpuOfProcessesNamed(POSTGRES),
  };
}

/** CPU ms per job of each party between two samples. */
export function cpuPerJob(before: CpuSample, after: CpuSample, jobs: number): CpuSample {
  const per = (k: keyof CpuSample) => (after[k] - before[k]) / jobs;
  return { workersMs: per('workersMs'), benchMs: per('benchMs'), redisMs: per('redisMs'), postgresMs: per('postgresMs') };
}

const ticksToMs = (ticks: number) => (ticks * 1000) / CLOCK_TICKS_PER_SECOND;

/**
 * Busy CPU time of the whole machine (every core), from /proc/stat: time charged to processes,
 * interrupt handling (irq and softirq: mostly the loopback network traffic of the run itself,
 * charged to no process), and steal (time the hypervisor gave other virtual machines).
 */
function machineBusyMs(): { processes: number; interrupts: number; steal: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return { processes: ticksToMs(user + nice + system), interrupts: ticksToMs(irq + softirq), steal: ticksToMs(steal) };
}

/** This process and its reaped children (the worker processes a scenario started and stopped). */
const ownTreeMs = () => cpuTimeMs(process.pid, true);

export interface MachineShare {
  /**
   * CPU used by processes other than this benchmark's, Redis and Postgres, and interrupt handling
   * not charged to those, in % of all cores.
   */
  readonly otherPercent: number;
  /** Interrupt handling (irq + softirq), in % of all cores, for information: mostly the run's own network traffic, partly inside its processes' time. */
  readonly interruptPercent: number;
  /** Time the hypervisor took for other machines, in % of all cores. */
  readonly stealPercent: number;
}

/**
 * Starts measuring how much CPU processes outside this benchmark (and Redis and Postgres) used.
 * Read the result once the benchmark's child processes have exited: a child's CPU time counts as
 * this process tree's only once it is reaped.
 */
export function watchOtherCpu(cores: number): () => MachineShare {
  const t0 = performance.now();
  const busy0 = machineBusyMs();
  const ownNow = () => ownTreeMs() + cpuOfProcessesNamed(POSTGRES_AND_REDIS);
  const own0 = ownNow();
  return () => {
    const percent = (ms: number) => Math.max(0, (ms / ((performance.now() - t0) * cores)) * 100);
    const busy = machineBusyMs();
    const own = ownNow() - own0;
    // Interrupts are in `other`: where the kernel does not account irq time apart
    // (CONFIG_IRQ_TIME_ACCOUNTING off), interrupts served while one of our processes ran are in
    // that process's CPU time too, so `own` includes part of them.
    const interrupts = busy.interrupts - busy0.interrupts;
    return {
      otherPercent: percent(busy.processes - busy0.processes + interrupts - own),
      interruptPercent: percent(interrupts),
      stealPercent: percent(busy.steal - busy0.steal),
    };
  };
}
