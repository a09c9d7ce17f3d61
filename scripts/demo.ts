/**
 * `npm run demo`: the whole system on this machine. Migrates, initialises settings, starts the
 * simulated provider (a few percent of injected faults), two worker processes and a producer,
 * runs a batch of realistic goals, and prints what an operator would want to know.
 */
import { randomBytes } from 'node:crypto';
import { connectDatabase } from '../db/client.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { SEED_COST_BY_GENERATOR, SEED_FALLBACK_RATE, SEED_VALIDATION_SUCCESS_RATE } from '../db/seed-queries.ts';
import { SettingsStore } from '../db/settings-store.ts';
import { GenerationClient, GenerationFailedError } from '../producer/client.ts';
import { readDatabaseSchema, readDatabaseUrl, readRedisConfig } from '../shared/config.ts';
import { findModel } from '../shared/default-catalog.ts';
import { startSimulator } from '../test/simulator/server.ts';
import { startTsProcess, waitForOutput } from '../test/helpers/processes.ts';
import { sampleRequestParts } from '../test/helpers/sample-requests.ts';

const JOBS = Number(process.env.DEMO_JOBS ?? 200);

const env = process.env;
const databaseUrl = readDatabaseUrl(env);
const databaseSchema = readDatabaseSchema(env);
const redis = readRedisConfig(env);
const prefix = env.QUEUE_PREFIX ?? `demo-${randomBytes(3).toString('hex')}`;

function bar(done: number, total: number): string {
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

console.log('1/5 migrating and initialising settings');
const db = connectDatabase(databaseUrl, { schemaName: databaseSchema, maxConnections: 4 });
await migrateDatabase(db);
const store = new SettingsStore(db.db);
await store.catalog.initDefaults();
await store.initDefaults('demo');
const settings = await store.read();
console.log(`    primary=${settings.primaryModel} fallback=${settings.fallbackModel} enable_fallback=${settings.enableFallback}`);

console.log('2/5 starting the simulated model provider (about 5% of primary answers faulty)');
const sim = await startSimulator({
  port: 0,
  seed: 7,
  latencyMs: { 'gpt-4o-mini': 300, 'claude-sonnet-4-6': 800 },
  faults: { 'gpt-4o-mini': { schema: 0.02, semantic: 0.01, unparseable: 0.005, truncated: 0.005, server_error: 0.005, rate_limit: 0.005 }, 'claude-sonnet-4-6': { server_error: 0.01 } },
});

console.log('3/5 starting two worker processes');
const workerEnv = {
  // Whatever Redis mode this shell is set up for (REDIS_URL, REDIS_SENTINELS, ...), the workers use too.
  ...Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('REDIS_'))),
  DATABASE_URL: databaseUrl,
  ...(databaseSchema ? { DATABASE_SCHEMA: databaseSchema } : {}),
  QUEUE_PREFIX: prefix,
  OPENAI_API_KEY: 'sk-demo',
  OPENAI_BASE_URL: `${sim.url}/v1`,
  ANTHROPIC_API_KEY: 'sk-ant-demo',
  ANTHROPIC_BASE_URL: sim.url,
  METRICS_PORT: '0',
  WORKER_CONCURRENCY: '20',
  LOG_LEVEL: 'warn',
};
const workers = [startTsProcess('worker/main.ts', { ...workerEnv, LOG_LEVEL: 'info' }), startTsProcess('worker/main.ts', { ...workerEnv, LOG_LEVEL: 'info' })];
await Promise.all(workers.map((w) => waitForOutput(w, /worker started/, 60_000)));

console.log(`4/5 generating ${JOBS} workflows through the producer library`);
const client = new GenerationClient({ redis: redis.target, queuePrefix: prefix });
const latencies: number[] = [];
const ids: string[] = [];
let done = 0;
const outcomes: Record<string, number> = {};
await Promise.all(
  Array.from({ length: JOBS }, async (_, i) => {
    const started = performance.now();
    const request = { userId: `user-${i % 17}`, agentId: `agent-${i}`, ...sampleRequestParts(i) };
    const id = await client.enqueue(request);
    ids.push(id);
    let status: string;
    try {
      status = (await client.waitForResult(id, { timeoutMs: 300_000 })).status;
    } catch (err) {
      status = err instanceof GenerationFailedError ? err.code : `error (${String(err)})`;
    }
    latencies.push(performance.now() - started);
    outcomes[status] = (outcomes[status] ?? 0) + 1;
    done++;
    if (process.stdout.isTTY) process.stdout.write(`\r    ${bar(done, JOBS)}`);
    else if (done % Math.max(1, Math.floor(JOBS / 10)) === 0 || done === JOBS) console.log(`    ${bar(done, JOBS)}`);
  }),
);
if (process.stdout.isTTY) process.stdout.write('\n');

console.log('5/5 summary of this run');
const [run] = await db.sql`
  select count(*)::int as jobs,
         count(*) filter (where fallback_reason is not null and status in ('succeeded', 'invalid'))::int as via_fallback,
         count(*) filter (where status in ('succeeded', 'invalid'))::int as generated,
         count(*) filter (where status = 'succeeded')::int as succeeded,
         coalesce(sum(cost_usd), 0)::text as total_cost
  from workflow_generations where job_id in ${db.sql(ids)}`;
const [attempts] = await db.sql`
  select count(*) filter (where role = 'primary' and outcome in ('ok', 'unparseable', 'truncated', 'refusal', 'empty', 'schema', 'semantic'))::int as answered,
         count(*) filter (where role = 'primary' and outcome = 'ok')::int as passed,
         avg(cost_usd) filter (where model = ${settings.fallbackModel} and outcome = 'ok')::float8 as fallback_cost
  from generation_attempts where job_id in ${db.sql(ids)}`;
const total = Number(run!.total_cost);
const fallbackModel = findModel(settings.fallbackModel)!;
// Measured from this run's own fallback answers; with none, there is nothing to compare with
// (shown as such, not as a $0 that would read as a price).
const allFallback = attempts!.fallback_cost === null ? null : attempts!.fallback_cost * run!.jobs;
const sorted = [...latencies].sort((a, b) => a - b);
console.table({
  jobs: run!.jobs,
  outcomes: JSON.stringify(outcomes),
  'fallback rate': `${((run!.via_fallback * 100) / Math.max(1, run!.generated)).toFixed(2)}% (target < 5%)`,
  'primary validation pass rate': `${((attempts!.passed * 100) / Math.max(1, attempts!.answered)).toFixed(2)}% (target > 95%)`,
  'total cost': `$${total.toFixed(6)}`,
  'cost per workflow': `$${(total / Math.max(1, run!.succeeded)).toFixed(6)}`,
  [`all on ${fallbackModel.label}`]: allFallback === null ? 'n/a (no answer of it in this run to measure)' : `$${allFallback.toFixed(6)}`,
  savings: allFallback !== null && allFallback > 0 ? `$${(allFallback - total).toFixed(6)} (${(((allFallback - total) / allFallback) * 100).toFixed(1)}%)` : 'n/a',
  'latency p50': `${Math.round(pct(sorted, 50))} ms`,
  'latency p95': `${Math.round(pct(sorted, 95))} ms`,
});

console.log("The seed's monitoring queries, verbatim, over everything in audit_logs:");
console.log('Fallback rate (7 days)');
console.table(await db.sql.unsafe(SEED_FALLBACK_RATE));
console.log('Cost by generator (30 days)');
console.table(await db.sql.unsafe(SEED_COST_BY_GENERATOR));
console.log('Validation success rate (7 days)');
console.table(await db.sql.unsafe(SEED_VALIDATION_SUCCESS_RATE));

await client.close();
await Promise.all(workers.map((w) => w.kill('SIGTERM')));
await sim.close();
await db.close();
