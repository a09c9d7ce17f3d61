/**
 * The docker-compose stack, run natively: the commands and environment of docker-compose.yml
 * (resolved by `docker-compose config`), compose hostnames replaced by 127.0.0.1 and container
 * ports by free ones, the image's ENV from the Dockerfile. migrate/init, the simulated provider
 * with injected failures, a producer and two worker replicas run as child processes; a real
 * Prometheus (Debian's package) loads the compose config's jobs and rules with 1 s intervals.
 *
 * Then: traffic through the producer's HTTP API; every dashboard query and recording rule
 * returns data; the fallback rate Prometheus computes matches the seed's SQL on audit_logs;
 * promtool accepts the live /metrics; every process stops cleanly on SIGTERM.
 *
 * Test-only differences from compose, all listed in TEST_ONLY below: the Postgres schema and queue
 * prefix (isolation), heavier faults and shorter latencies (so a one-minute run fills every panel),
 * and LOG_LEVEL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { connectDatabase, type DbHandle } from '../db/client.ts';
import { SEED_FALLBACK_RATE } from '../db/seed-queries.ts';
import { FALLBACK_QUEUE, PRIMARY_QUEUE } from '../shared/jobs.ts';
import { type ComposeConfig, containerPorts, nativeCommand, nativeEnvironment, resolveCompose } from './helpers/compose.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from './helpers/database.ts';
import { imageEnvironment } from './helpers/dockerfile.ts';
import { eventually, goal, PLUGINS } from './helpers/harness.ts';
import { PROJECT_ROOT } from './helpers/processes.ts';
import { freePort, isFinite, keepScraping, type PrometheusServer, promtoolLintMetrics, startPrometheus } from './helpers/prometheus.ts';
import { dashboardQueries, PROMETHEUS_CONFIG_FILE, readRules, substituteGrafanaVariables } from './helpers/promql.ts';

const REQUESTS = 120;
const WORKER_REPLICAS = 2;
const FAULTS = {
  'gpt-4o-mini': { schema: 0.12, semantic: 0.04, unparseable: 0.02, rate_limit: 0.05, server_error: 0.02 },
  'claude-sonnet-4-6': { schema: 0.06, server_error: 0.02 },
};

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(name: string, file: string, args: string[], env: Record<string, string>): Proc {
  // Nothing of this machine's environment but PATH and HOME: the process sees what compose gives it.
  const child = spawn(file, args, { cwd: PROJECT_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { name, child, output: () => out, exited };
}

async function httpOk(url: string, proc: Proc): Promise<boolean> {
  if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}):\n${proc.output()}`);
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
  return res?.ok ?? false;
}

let compose: ComposeConfig;
let schema: string;
let prefix: string;
let db: DbHandle;
let prom: PrometheusServer;
const procs: Proc[] = [];
const ports = { sim: 0, producer: 0, workers: [] as number[], prometheus: 0, redisExporter: 0, postgresExporter: 0 };
/** The Redis and Postgres exporters: Debian's builds of the versions compose runs, outside the SIGTERM test (they are not ours). */
const exporters: Proc[] = [];
let startedAt = 0;

beforeAll(async () => {
  schema = uniqueName('compose');
  prefix = uniqueName('compose');
  // Variables docker-compose.yml reads from the shell: only isolation and log volume.
  compose = await resolveCompose({ QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' });
  ports.sim = await freePort();
  ports.producer = await freePort();
  for (let i = 0; i < WORKER_REPLICAS; i++) ports.workers.push(await freePort());
  ports.prometheus = await freePort();
  ports.redisExporter = await freePort();
  ports.postgresExporter = await freePort();

  const TEST_ONLY = {
    DATABASE_SCHEMA: schema,
  };
  // The ENV the Dockerfile's `app` stage sets (NODE_OPTIONS with the heap cap among it): the processes get it in the container too.
  const image = imageEnvironment('app');
  const envFor = (service: string, own: Record<number, number>, extra: Record<string, string> = {}) => ({
    ...image,
    ...nativeEnvironment(compose, service, {
      replaceUrls: { redis: TEST_REDIS_URL, postgres: TEST_DATABASE_URL },
      ports: { sim: { 8787: ports.sim }, producer: { 3000: ports.producer }, [service]: own },
    }),
    ...TEST_ONLY,
    ...extra,
  });
  startedAt = Date.now() / 1000;

  // Connects lazily; here so that afterAll drops the schema whatever fails below.
  db = connectDatabase(TEST_DATABASE_URL, { schemaName: schema, maxConnections: 2 });

  // 1. migrate/init, the one-shot service: must exit 0.
  const m = nativeCommand(compose, 'migrate');
  const migrate = start('migrate', m.file, m.args, envFor('migrate', {}));
  const migrated = await migrate.exited;
  expect(migrated.code, migrate.output()).toBe(0);
  expect(migrate.output()).toContain('migrations applied');

  // 2. the simulator, the producer and the worker replicas.
  const s = nativeCommand(compose, 'sim');
  const sim = start('sim', s.file, s.args, envFor('sim', { 8787: ports.sim }, { SIM_FAULTS: JSON.stringify(FAULTS), SIM_LATENCY_MS: '{"gpt-4o-mini":40,"claude-sonnet-4-6":80}' }));
  procs.push(sim);
  const p = nativeCommand(compose, 'producer');
  const producer = start('producer', p.file, p.args, envFor('producer', { 3000: ports.producer }));
  procs.push(producer);
  const w = nativeCommand(compose, 'worker');
  const workers = ports.workers.map((port, i) => start(`worker-${i + 1}`, w.file, w.args, envFor('worker', { [containerPorts(compose.services.worker!)[0]!]: port })));
  procs.push(...workers);

  // The exporters compose runs from their images, as Debian packages them (same versions).
  const exporterEnv = (service: string) => nativeEnvironment(compose, service, { replaceUrls: { redis: TEST_REDIS_URL, postgres: TEST_DATABASE_URL }, ports: {} });
  const dsn = new URL(exporterEnv('postgres-exporter').DATA_SOURCE_NAME!);
  dsn.searchParams.set('sslmode', 'disable');
  exporters.push(
    start('redis-exporter', 'prometheus-redis-exporter', [`-web.listen-address=127.0.0.1:${ports.redisExporter}`], exporterEnv('redis-exporter')),
    start('postgres-exporter', 'prometheus-postgres-exporter', [`--web.listen-address=127.0.0.1:${ports.postgresExporter}`], { ...exporterEnv('postgres-exporter'), DATA_SOURCE_NAME: dsn.toString() }),
  );

  // Generous deadlines: start-up loads every module, slow on a loaded 2-core CI machine.
  const up = (p: Proc, check: () => Promise<boolean>) =>
    eventually(check, { timeoutMs: 90_000, what: p.name }).catch((err: unknown) => {
      throw new Error(`${String(err)}; its output:\n${p.output().slice(-2_000)}`);
    });
  await Promise.all([
    up(producer, () => httpOk(`http://127.0.0.1:${ports.producer}/readyz`, producer)),
    ...workers.map((worker, i) => up(worker, () => httpOk(`http://127.0.0.1:${ports.workers[i]}/healthz`, worker))),
    up(sim, async () => sim.output().includes('simulator listening')),
    up(exporters[0]!, () => httpOk(`http://127.0.0.1:${ports.redisExporter}/metrics`, exporters[0]!)),
    up(exporters[1]!, () => httpOk(`http://127.0.0.1:${ports.postgresExporter}/metrics`, exporters[1]!)),
  ]);

  // 3. Prometheus with the compose config's jobs and rules; DNS discovery becomes static targets.
  const base = YAML.parse(readFileSync(PROMETHEUS_CONFIG_FILE, 'utf8')) as { global: object; rule_files: string[]; scrape_configs: Array<{ job_name: string } & Record<string, unknown>> };
  const targets: Record<string, string[]> = {
    worker: ports.workers.map((port) => `127.0.0.1:${port}`),
    producer: [`127.0.0.1:${ports.producer}`],
    prometheus: [`127.0.0.1:${ports.prometheus}`],
    redis: [`127.0.0.1:${ports.redisExporter}`],
    postgres: [`127.0.0.1:${ports.postgresExporter}`],
  };
  prom = await startPrometheus(
    {
      ...base,
      global: { ...base.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: base.rule_files.map((f) => resolve(dirname(PROMETHEUS_CONFIG_FILE), f)),
      scrape_configs: base.scrape_configs.map(({ dns_sd_configs: _dns, static_configs: _static, ...job }) => {
        if (!targets[job.job_name]) throw new Error(`no native targets for scrape job ${job.job_name}`);
        return { ...job, static_configs: [{ targets: targets[job.job_name] }] };
      }),
    },
    { port: ports.prometheus },
  );
  // Workers, the producer, Prometheus itself and the two exporters.
  await eventually(async () => (await prom.query('count(up == 1)'))[0]?.value?.[1] === String(WORKER_REPLICAS + 4), { timeoutMs: 20_000, what: 'every target to be up' });
}, 240_000);

afterAll(async () => {
  for (const p of [...procs, ...exporters]) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all([...procs, ...exporters].map((p) => p.exited));
  await prom?.close();
  if (prefix) {
    for (const name of [PRIMARY_QUEUE, FALLBACK_QUEUE]) {
      const q = new Queue(name, { connection: { url: TEST_REDIS_URL }, prefix });
      await q.obliterate({ force: true }).catch(() => {});
      await q.close();
    }
  }
  if (db) {
    await db.sql.unsafe(`drop schema if exists "${schema}" cascade`).catch(() => {});
    await db.close();
  }
});

describe('the compose stack, natively', () => {
  it('serves /metrics that promtool accepts, from the workers and the producer alike', async () => {
    for (const url of [...ports.workers.map((p) => `http://127.0.0.1:${p}/metrics`), `http://127.0.0.1:${ports.producer}/metrics`]) {
      const text = await (await fetch(url)).text();
      expect(text, url).toContain('process_resident_memory_bytes');
      expect(text, url).toContain('orchestrator_queue_jobs{');
      expect(await promtoolLintMetrics(text), url).toEqual([]);
    }
  });

  it('processes traffic with injected failures; every dashboard query and recording rule returns data; the fallback rate matches the seed SQL', async () => {
    // Traffic through the HTTP API, 12 requests at a time.
    const ids: string[] = [];
    const send = async (n: number) => {
      const res = await fetch(`http://127.0.0.1:${ports.producer}/v1/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: `user-${n % 7}`, agentId: `agent-${n}`, userGoal: goal(`Every morning summarise unread emails and post them to Slack (${n})`), availablePlugins: PLUGINS }),
      });
      expect(res.status, await res.clone().text()).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    };
    // Every worker has been scraped (its counters at zero) before this: see beforeAll.
    const trafficStarted = Date.now() / 1000;
    for (let n = 0; n < REQUESTS; n += 12) await Promise.all(Array.from({ length: Math.min(12, REQUESTS - n) }, (_, i) => send(n + i)));
    expect(new Set(ids).size).toBe(REQUESTS);
    await eventually(
      async () => {
        const [row] = await db.sql`select count(*)::int as n from workflow_generations where status <> 'queued'`;
        return row!.n === REQUESTS;
      },
      { timeoutMs: 90_000, what: `all ${REQUESTS} requests to finish` },
    );
    // Prometheus has scraped the final counts of both replicas.
    await eventually(async () => (await prom.query('sum(orchestrator_workflow_requests_total)'))[0]?.value?.[1] === String(REQUESTS), { timeoutMs: 15_000, what: 'the final counts in Prometheus' });
    // ...and evaluated the rules on them.
    const now = Date.now() / 1000;
    await eventually(async () => {
      const groups = await prom.api<{ groups: Array<{ rules: Array<{ lastEvaluation: string }> }> }>('/api/v1/rules');
      return groups.groups.every((g) => g.rules.every((r) => Date.parse(r.lastEvaluation) / 1000 > now + 1));
    }, { timeoutMs: 15_000, what: 'a rule evaluation after the last scrape' });
    const end = Date.now() / 1000;
    const range = `${Math.ceil(end - startedAt) + 60}s`;

    // The seed's fallback-rate query, verbatim, on this run's audit_logs.
    const [seed] = await db.sql.unsafe(SEED_FALLBACK_RATE);
    const sqlTotal = Number(seed!.total_workflows);
    const sqlRate = Number(seed!.fallback_percentage) / 100;
    const [{ n: sqlFallbacks }] = (await db.sql`select count(*)::int as n from audit_logs where action = 'WORKFLOW_GENERATED' and details->>'fallback_reason' is not null`) as unknown as [{ n: number }];
    expect(sqlTotal).toBeGreaterThan(REQUESTS * 0.9);
    expect(sqlFallbacks).toBeGreaterThan(5);

    const scalar = async (expr: string) => Number((await prom.query(expr, end))[0]?.value?.[1] ?? NaN);
    // Exactly the same counts...
    expect(await scalar('sum(orchestrator_workflow_requests_total{outcome=~"succeeded|invalid"})')).toBe(sqlTotal);
    expect(await scalar('sum(orchestrator_workflow_requests_total{outcome=~"succeeded|invalid",via="fallback"})')).toBe(sqlFallbacks);
    // ...and the dashboard's own fallback-rate stat (increase() over the range) agrees within what
    // increase() may do. Each worker's series start at 0 (no extrapolation before them) and end at most
    // 1.1 average scrape intervals before the query (extrapolated to it; 2 s allows for late scrapes on
    // a loaded machine), so worker i's counts are scaled by some f_i in [1, 1 + 2 s / T_i], T_i being
    // at least the time from the traffic's start to the rules' evaluation. A ratio of sums
    // scaled that way moves from the exact ratio by at most (max f / min f - 1) times the spread of
    // the workers' own fallback ratios, which can be wide: a hand-over's final count belongs to the
    // worker that ran the fallback job, not the one that ran the primary.
    const perWorker = async (expr: string) =>
      new Map((await prom.query(`sum by (instance) (${expr})`, end)).map((s) => [s.metric.instance!, Number(s.value![1])]));
    const generatedBy = await perWorker('orchestrator_workflow_requests_total{job="worker",outcome=~"succeeded|invalid"}');
    const viaFallbackBy = await perWorker('orchestrator_workflow_requests_total{job="worker",outcome=~"succeeded|invalid",via="fallback"}');
    const workerRates = [...generatedBy].filter(([, n]) => n > 0).map(([instance, n]) => (viaFallbackBy.get(instance) ?? 0) / n);
    const spread = Math.max(...workerRates) - Math.min(...workerRates);
    const tolerance = (2 / (now - trafficStarted)) * spread + 1e-9;
    const stat = dashboardQueries().find((q) => q.panel === 'Fallback rate' && q.instant)!;
    const promRate = await scalar(substituteGrafanaVariables(stat.expr, { range }));
    const detail = `seed SQL ${sqlRate}; workers ${workerRates.map((r) => r.toFixed(3)).join(', ')}; tolerance ${tolerance.toFixed(4)}`;
    expect(Math.abs(promRate - sqlRate), `prometheus ${promRate} vs ${detail}`).toBeLessThanOrEqual(tolerance);
    const recorded = await scalar('orchestrator:workflow_fallback:ratio_rate1h');
    expect(Math.abs(recorded - sqlRate), `recorded ${recorded} vs ${detail}`).toBeLessThanOrEqual(tolerance);

    // Every dashboard query returns data: at least one real number over the run.
    const empty: string[] = [];
    for (const q of dashboardQueries()) {
      const expr = substituteGrafanaVariables(q.expr, { rateInterval: '10s', range });
      const result = q.instant ? await prom.query(expr, end) : await prom.queryRange(expr, startedAt, end, 1);
      const values = result.flatMap((s) => (s.value ? [s.value[1]] : (s.values ?? []).map((v) => v[1])));
      if (!values.some(isFinite)) empty.push(`${q.panel} [${q.refId}]: ${expr}`);
    }
    expect(empty).toEqual([]);

    // Every recording rule has a value, and every rule (alerts included) evaluates without error.
    for (const { rule } of readRules()) {
      if (!rule.record) continue;
      const result = await prom.query(rule.record, end);
      expect(result.some((s) => isFinite(s.value![1])), rule.record).toBe(true);
    }
    const rules = await prom.api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }>('/api/v1/rules');
    const unhealthy = rules.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok');
    expect(unhealthy).toEqual([]);
    expect(rules.groups.flatMap((g) => g.rules)).toHaveLength(readRules().length);

    // Redis and Postgres health come from the exporters compose runs.
    expect(await scalar('max(redis_up)')).toBe(1);
    expect(await scalar('max(pg_up)')).toBe(1);

    // Both replicas are counted; queue depth comes from every process and max by de-duplicates it.
    expect(await scalar('count(up{job="worker"} == 1)')).toBe(WORKER_REPLICAS);
    expect(await scalar('count(orchestrator_queue_jobs{queue="workflow-generation",state="waiting"})')).toBe(WORKER_REPLICAS + 1);
  }, 180_000);

  it('every process stops on SIGTERM with exit code 0 within its compose stop_grace_period', async () => {
    const running = procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    expect(running.map((p) => p.name).sort()).toEqual(['producer', 'sim', ...ports.workers.map((_, i) => `worker-${i + 1}`)].sort());
    // A scrape connection that never goes idle must not hold the stop up (Prometheus keeps one open).
    const scrapers = [...ports.workers, ports.producer].map((port) => keepScraping('127.0.0.1', port));
    await eventually(async () => scrapers.every((s) => s.scrapes() > 0), { what: 'a first scrape of every process' });
    const results = await Promise.all(
      running.map(async (p) => {
        const service = p.name.replace(/-\d+$/, '');
        // What `docker compose stop` waits before SIGKILL.
        const graceMs = Number(/^(\d+)s$/.exec(compose.services[service]!.stop_grace_period ?? '10s')![1]) * 1000;
        const started = Date.now();
        p.child.kill('SIGTERM');
        const outcome = await Promise.race([p.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), graceMs).unref())]);
        if (outcome === 'still running') p.child.kill('SIGKILL');
        return { name: p.name, graceMs, tookMs: Date.now() - started, outcome, output: p.output().slice(-1_500) };
      }),
    );
    await Promise.all(scrapers.map((s) => s.stop()));
    for (const r of results) expect(r.outcome, `${r.name} after ${r.tookMs} ms (grace ${r.graceMs} ms):\n${r.output}`).toEqual({ code: 0, signal: null });
  }, 90_000);
});
