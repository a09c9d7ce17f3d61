/**
 * The model catalog as data, end to end on real Postgres, Redis, the SDKs and the simulator:
 * the upgrade path of the migration, the admin API's validation and audit, a model added at run
 * time through the API and used without a restart, retired models, and the new call failures.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../db/client.ts';
import { MIGRATIONS_FOLDER, migrateDatabase } from '../db/migrate.ts';
import { auditLogs, generationAttempts, modelCatalog, workflowGenerations } from '../db/schema.ts';
import { SettingsStore } from '../db/settings-store.ts';
import type { RunningProducer } from '../producer/server.ts';
import { MODEL_CATALOG } from '../shared/default-catalog.ts';
import { costOf, formatUsd } from '../shared/money.ts';
import type { WorkerRuntime } from '../worker/runtime.ts';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { readWorkerConfig } from '../shared/config.ts';
import { startWorkerRuntime } from '../worker/runtime.ts';
import { TEST_DATABASE_URL, uniqueName } from './helpers/database.ts';
import { eventually, goal, type Harness, PLUGINS, startHarness } from './helpers/harness.ts';
import { ADMIN_IDENTITY, adminAuth, call, producerPool } from './helpers/producer.ts';

let h: Harness;
let worker: WorkerRuntime;
let api: RunningProducer;
let producers: ReturnType<typeof producerPool> | undefined;

beforeAll(async () => {
  h = await startHarness('catalog', { env: { ACME_API_KEY: 'sk-acme-test' } });
  worker = await h.startWorker();
  producers = producerPool(h.env);
  api = await producers.start();
});
afterAll(async () => {
  await producers?.closeAll();
  await h?.close();
});

const request = (text: string, ...directives: string[]) => ({ userId: 'user-1', agentId: 'agent-1', userGoal: goal(text, ...directives), availablePlugins: PLUGINS });
const put = (path: string, json: unknown) => call(api.url, 'PUT', path, { headers: adminAuth, json });

async function attemptsOf(jobId: string) {
  return h.db.db.select().from(generationAttempts).where(eq(generationAttempts.jobId, jobId)).orderBy(generationAttempts.attemptNumber);
}

const acme = (sim: string) => ({
  provider: 'openai-compatible',
  api_model: 'acme-small-2026-11',
  label: 'Acme small',
  description: 'An internal gateway model',
  base_url: `${sim}/v1`,
  api_key_env: 'ACME_API_KEY',
  structured_output: 'json_object',
  temperature: null,
  token_limit_param: 'max_tokens',
  reasoning_effort: null,
  price_input_per_mtok: '0.123456',
  price_output_per_mtok: '0.654321',
  price_cached_input_per_mtok: '0.01',
  price_cache_write_per_mtok: '0',
  price_source_url: 'https://acme.example/pricing',
  price_read_at: '2026-12-04',
  context_window_tokens: 128_000,
  max_output_tokens: 16_000,
  timeout_ms: 5_000,
  deprecated_at: null,
  shutdown_at: null,
  replacement_id: null,
  lifecycle_source_url: null,
  enabled: true,
});

describe('migrate and init', () => {
  it('work on an empty database, and on one left by the previous schema with its data', async () => {
    // The previous schema: only the migrations before the catalog's.
    const old = mkdtempSync(join(tmpdir(), 'migrations-'));
    cpSync(MIGRATIONS_FOLDER, old, { recursive: true });
    const journal = JSON.parse(readFileSync(join(old, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    journal.entries = journal.entries.filter((e) => e.tag < '0003');
    writeFileSync(join(old, 'meta/_journal.json'), JSON.stringify(journal));
    for (const schemaName of [uniqueName('mig_empty'), uniqueName('mig_upgrade')]) {
      const handle = connectDatabase(TEST_DATABASE_URL, { schemaName, maxConnections: 2 });
      try {
        const upgrade = schemaName.includes('upgrade');
        if (upgrade) {
          await handle.sql.unsafe(`create schema "${schemaName}"`);
          await migrate(handle.db, { migrationsFolder: old, migrationsSchema: schemaName, migrationsTable: '__drizzle_migrations' });
          await handle.sql.unsafe(`insert into system_settings_config (key, value, category) values
            ('orchestrator_primary_model', '"gpt-4o-mini"', 'orchestrator'), ('orchestrator_fallback_model', '"claude-sonnet-4"', 'orchestrator'), ('orchestrator_enable_fallback', 'true', 'orchestrator')`);
          await handle.sql.unsafe(`insert into workflow_generations (job_id, request, status) values ('old-1', '{}', 'succeeded')`);
          await handle.sql.unsafe(`insert into generation_attempts (job_id, attempt_number, model, provider, role, outcome, cost_usd, latency_ms, settings, started_at, finished_at)
            values ('old-1', 1, 'claude-sonnet-4', 'anthropic', 'fallback', 'auth_error', 0.000123, 10, '{}', now(), now())`);
        }
        await migrateDatabase(handle);
        const store = new SettingsStore(handle.db);
        expect((await store.catalog.initDefaults()).length).toBe(MODEL_CATALOG.length);
        await store.initDefaults();
        // Run again: nothing added, nothing changed.
        expect(await store.catalog.initDefaults()).toEqual([]);
        const settings = await store.read();
        if (upgrade) {
          // Nothing switched behind the operator's back: the retired model stays configured.
          expect(settings.fallbackModel).toBe('claude-sonnet-4');
          const [a] = await handle.db.select().from(generationAttempts);
          expect(a).toMatchObject({ jobId: 'old-1', model: 'claude-sonnet-4', costUsd: '0.000123000000', priceInputPerMTok: null });
          // The new outcomes are accepted by the CHECK constraint.
          await handle.sql.unsafe(`update generation_attempts set outcome = 'model_unavailable'`);
        } else {
          expect(settings.fallbackModel).toBe('claude-sonnet-4-6');
        }
        expect((await store.catalog.load()).find('claude-sonnet-4')?.shutdownAt?.toISOString()).toBe('2026-06-15T00:00:00.000Z');
      } finally {
        await handle.sql.unsafe(`drop schema if exists "${schemaName}" cascade`);
        await handle.close();
      }
    }
  });

  it('db:init never overwrites a row an operator changed', async () => {
    // A row as GET returns it goes back as it is, with one change.
    const read = (await call(api.url, 'GET', '/v1/admin/models', { headers: adminAuth })).body.models.find((m: { id: string }) => m.id === 'gpt-4.1');
    expect(read).toMatchObject({ status: 'available', updated_by: 'test' });
    expect((await put('/v1/admin/models/gpt-4.1', { ...read, price_input_per_mtok: '2.5' })).status).toBe(200);
    expect(await h.db.settings.catalog.initDefaults('test')).toEqual([]);
    const [row] = await h.db.db.select().from(modelCatalog).where(eq(modelCatalog.id, 'gpt-4.1'));
    expect(row!.priceInputPerMTok).toBe('2.500000');
    expect(row!.updatedBy).toBe(ADMIN_IDENTITY);
  });
});

describe('admin API', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['a negative price', { price_output_per_mtok: '-1' }, '/price_output_per_mtok'],
    ['an unknown provider', { provider: 'acme' }, '/provider'],
    ['a base URL that is not http(s)', { base_url: 'ftp://acme.example/v1' }, '/base_url'],
    ['an unknown replacement', { replacement_id: 'gpt-99' }, '/replacement_id'],
    ['a key where the variable name goes', { api_key_env: 'sk-proj-abc123DEF' }, '/api_key_env'],
    ['a field the catalog does not have', { price_per_call: '0.01' }, '/price_per_call'],
    ['a price with more than 6 decimals', { price_input_per_mtok: '0.1234567' }, '/price_input_per_mtok'],
    ['a shutdown date that is not a date', { shutdown_at: 'next spring' }, '/shutdown_at'],
  ];
  for (const [what, change, path] of cases) {
    it(`refuses ${what} with a 400 naming the field, storing nothing`, async () => {
      const r = await put('/v1/admin/models/bad-model', { ...acme(h.sim.url), ...change });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('INVALID_MODEL');
      expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
      expect(await h.db.db.select().from(modelCatalog).where(eq(modelCatalog.id, 'bad-model'))).toEqual([]);
      expect(await h.db.db.select().from(auditLogs).where(eq(auditLogs.action, 'MODEL_CATALOG_UPDATED')).then((rows) => rows.filter((r) => (r.details as { model_id: string }).model_id === 'bad-model'))).toEqual([]);
    });
  }

  it('refuses to configure a retired model, naming its replacement', async () => {
    const r = await put('/v1/admin/settings', { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4', enableFallback: true });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/claude-sonnet-4.*retired.*2026-06-15.*replacement is "claude-sonnet-4-6"/);
    expect((await h.db.settings.read()).fallbackModel).toBe('claude-sonnet-4-6');
  });

  it('refuses to configure a disabled model, naming its replacement', async () => {
    const read = (await call(api.url, 'GET', '/v1/admin/models', { headers: adminAuth })).body.models.find((m: { id: string }) => m.id === 'gpt-4o');
    expect((await put('/v1/admin/models/gpt-4o', { ...read, enabled: false })).status).toBe(200);
    try {
      const r = await put('/v1/admin/settings', { primaryModel: 'gpt-4o', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
      expect(r.status).toBe(400);
      expect(r.body.error.details).toEqual([expect.objectContaining({ path: '/primaryModel', code: 'model_unavailable', message: expect.stringMatching(/"gpt-4o" is disabled in the catalog; its replacement is "gpt-6-luna"/) })]);
    } finally {
      await put('/v1/admin/models/gpt-4o', read);
    }
  });

  it('does not delete a model with attempts', async () => {
    await h.client.generateWorkflow(request('Summarise my inbox'), { timeoutMs: 20_000 });
    const r = await call(api.url, 'DELETE', '/v1/admin/models/gpt-4o-mini', { headers: adminAuth });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('MODEL_IN_USE');
  });
});

describe('a model added through the API', () => {
  it('serves as primary without a restart, priced exactly from the prices given', async () => {
    const created = await put('/v1/admin/models/acme-small', acme(h.sim.url));
    expect(created.status).toBe(201);
    const [audit] = await h.db.db.select().from(auditLogs).where(and(eq(auditLogs.action, 'MODEL_CATALOG_UPDATED'), eq(auditLogs.userId, ADMIN_IDENTITY))).orderBy(auditLogs.id);
    expect(audit).toBeDefined();
    const settings = await put('/v1/admin/settings', { primaryModel: 'acme-small', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
    expect(settings.status).toBe(200);
    await eventually(async () => worker.settings.current().primaryModel === 'acme-small', { what: 'the worker to pick up the new model' });
    try {
      const result = await h.client.generateWorkflow(request('Post new invoices to Slack'), { timeoutMs: 20_000 });
      expect(result.status).toBe('succeeded');
      expect(result.generator_used).toBe('acme-small');
      const [a] = await attemptsOf(result.job_id);
      expect(a).toMatchObject({ model: 'acme-small', provider: 'openai-compatible', outcome: 'ok', priceInputPerMTok: '0.123456', priceOutputPerMTok: '0.654321' });
      const spec = (await h.db.settings.catalog.load()).find('acme-small')!;
      const usage = { inputTokens: a!.inputTokens, outputTokens: a!.outputTokens, cachedInputTokens: a!.cachedInputTokens, cacheWriteTokens: a!.cacheWriteTokens };
      expect(a!.costUsd).toBe(formatUsd(costOf(spec, usage)));
      expect(a!.inputTokens).toBeGreaterThan(0);

      // A later price change never rewrites the attempt's history.
      expect((await put('/v1/admin/models/acme-small', { ...acme(h.sim.url), price_input_per_mtok: '9' })).status).toBe(200);
      const [again] = await attemptsOf(result.job_id);
      expect(again!.priceInputPerMTok).toBe('0.123456');
      expect(again!.costUsd).toBe(a!.costUsd);
    } finally {
      expect((await put('/v1/admin/settings', { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true })).status).toBe(200);
      await eventually(async () => worker.settings.current().primaryModel === 'gpt-4o-mini', { what: 'settings restored' });
    }
  });

  it('fails at once with auth_error naming the variable when the key variable is unset', async () => {
    expect((await put('/v1/admin/models/nokey-small', { ...acme(h.sim.url), api_key_env: 'NOKEY_API_KEY' })).status).toBe(201);
    await put('/v1/admin/settings', { primaryModel: 'nokey-small', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
    await eventually(async () => worker.settings.current().primaryModel === 'nokey-small', { what: 'settings to reach the worker' });
    try {
      const before = h.sim.stats().totalRequests;
      const result = await h.client.generateWorkflow(request('Copy rows to a sheet'), { timeoutMs: 20_000 });
      expect(result).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: 'auth_error' });
      const [a] = await attemptsOf(result.job_id);
      expect(a!.errorMessage).toMatch(/NOKEY_API_KEY is not set/);
      // Only the fallback's call reached a vendor.
      expect(h.sim.stats().totalRequests - before).toBe(1);
    } finally {
      await put('/v1/admin/settings', { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
      await eventually(async () => worker.settings.current().primaryModel === 'gpt-4o-mini', { what: 'settings restored' });
    }
  });
});

describe('new call failures', () => {
  const cases = [
    ['quota', 'quota_exhausted'],
    ['model_unavailable', 'model_unavailable'],
    ['bad_request', 'bad_request'],
  ] as const;
  for (const [fault, outcome] of cases) {
    it(`${fault} on the primary is recorded as ${outcome} and handed over at once`, async () => {
      const result = await h.client.generateWorkflow(request(`Draft replies (${fault})`, `gpt-4o-mini=${fault}`), { timeoutMs: 20_000 });
      expect(result).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: outcome });
      expect((await attemptsOf(result.job_id)).map((a) => [a.role, a.outcome])).toEqual([
        ['primary', outcome],
        ['fallback', 'ok'],
      ]);
    });

    it(`${fault} on the last-resort model ends the request failed, never retried on that model`, async () => {
      const id = await h.client.enqueue(request(`Draft replies again (${fault})`, `gpt-4o-mini=schema`, `claude-sonnet-4-6=${fault}`));
      await h.client.waitForResult(id, { timeoutMs: 20_000 }).catch(() => undefined);
      const attempts = await attemptsOf(id);
      expect(attempts.map((a) => [a.role, a.outcome])).toEqual([
        ['primary', 'schema'],
        ['fallback', outcome],
      ]);
      const [gen] = await h.db.db.select().from(workflowGenerations).where(eq(workflowGenerations.jobId, id));
      expect(gen!.status).toBe('failed');
      expect(gen!.failureReason).toMatch(new RegExp(`^${outcome}`));
    });
  }

  it('a billing 429 does not pause the model: the next request calls it at once', async () => {
    const pauses = async () => Number(/orchestrator_rate_limit_pauses_total\{model="gpt-4o-mini"\} (\d+)/.exec(await (await fetch(worker.metricsUrl!)).text())?.[1] ?? 0);
    const before = await pauses();
    await h.client.generateWorkflow(request('Quota again', 'gpt-4o-mini=quota'), { timeoutMs: 20_000 });
    const next = await h.client.generateWorkflow(request('Right after'), { timeoutMs: 20_000 });
    expect(next.generator_used).toBe('gpt-4o-mini');
    expect(await pauses()).toBe(before);
  });

  it('a reasoning model runs without temperature; a row that sends one gets bad_request, handed over and not retried', async () => {
    await put('/v1/admin/settings', { primaryModel: 'gpt-6-luna', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
    await eventually(async () => worker.settings.current().primaryModel === 'gpt-6-luna', { what: 'settings to reach the worker' });
    try {
      const ok = await h.client.generateWorkflow(request('Reasoning primary'), { timeoutMs: 20_000 });
      expect(ok).toMatchObject({ status: 'succeeded', generator_used: 'gpt-6-luna' });
      const luna = (await call(api.url, 'GET', '/v1/admin/models', { headers: adminAuth })).body.models.find((m: { id: string }) => m.id === 'gpt-6-luna');
      const { status: _s, updated_at: _u, updated_by: _b, id: _i, ...doc } = luna;
      expect((await put('/v1/admin/models/gpt-6-luna', { ...doc, temperature: 0.2 })).status).toBe(200);
      await eventually(async () => worker.settings.current().primary.temperature === 0.2, { what: 'the catalog change to reach the worker' });
      const handed = await h.client.generateWorkflow(request('Reasoning primary with temperature'), { timeoutMs: 20_000 });
      expect(handed).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: 'bad_request' });
      expect((await attemptsOf(handed.job_id)).map((a) => [a.model, a.outcome, a.httpStatus])).toEqual([
        ['gpt-6-luna', 'bad_request', 400],
        ['claude-sonnet-4-6', 'ok', 200],
      ]);
      await put('/v1/admin/models/gpt-6-luna', doc);
    } finally {
      await put('/v1/admin/settings', { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
      await eventually(async () => worker.settings.current().primaryModel === 'gpt-4o-mini', { what: 'settings restored' });
    }
  });

  it('a retired model configured in an existing database gets the vendor 404: model_unavailable, handed over', async () => {
    // Written as an old database would hold it, past the API's check.
    await h.db.db.execute(sql`update system_settings_config set value = '"claude-3-5-haiku"' where key = 'orchestrator_primary_model'`);
    await eventually(async () => worker.settings.current().primaryModel === 'claude-3-5-haiku', { what: 'the stored retired model to reach the worker' });
    try {
      const view = await call(api.url, 'GET', '/v1/admin/settings', { headers: adminAuth });
      expect(view.body.lifecycle).toEqual([expect.objectContaining({ role: 'primary', model: 'claude-3-5-haiku', retired: true, replacementId: 'claude-haiku-4-5' })]);
      const result = await h.client.generateWorkflow(request('Label urgent emails'), { timeoutMs: 20_000 });
      expect(result).toMatchObject({ status: 'succeeded', generator_used: 'claude-sonnet-4-6', fallback_reason: 'model_unavailable' });
      const metrics = await (await fetch(worker.metricsUrl!)).text();
      expect(metrics).toMatch(/orchestrator_configured_model_shutdown_timestamp_seconds\{role="primary",model="claude-3-5-haiku",replacement="claude-haiku-4-5"\} 1771459200/);
    } finally {
      await put('/v1/admin/settings', { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true });
      await eventually(async () => worker.settings.current().primaryModel === 'gpt-4o-mini', { what: 'settings restored' });
    }
  });
});

describe('the catalog in the worker', () => {
  it('keeps the last good catalog while a stored row is bad', async () => {
    const price = () => worker.settings.current().catalog.find('claude-haiku-4-5')!.pricing.inputPerMTok;
    const reads = async (n: number) => {
      const start = worker.settings.refreshes;
      await eventually(async () => worker.settings.refreshes >= start + n, { what: `${n} reads of the tables` });
    };
    expect(price()).toBe('1');
    // Written past the API, as a hand-edited row would be: a key where the variable name goes.
    await h.db.db.execute(sql`insert into model_catalog (id, provider, api_model, label, structured_output, token_limit_param, price_input_per_mtok, price_output_per_mtok,
      price_cached_input_per_mtok, price_cache_write_per_mtok, context_window_tokens, max_output_tokens, timeout_ms, api_key_env)
      values ('hand-edited', 'openai', 'x', 'x', 'json_schema', 'max_tokens', 1, 1, 0, 0, 8000, 1000, 1000, 'sk-live-abc')`);
    await h.db.db.update(modelCatalog).set({ priceInputPerMTok: '1.5' }).where(eq(modelCatalog.id, 'claude-haiku-4-5'));
    try {
      await reads(2);
      expect(price()).toBe('1');
    } finally {
      await h.db.db.delete(modelCatalog).where(eq(modelCatalog.id, 'hand-edited'));
    }
    await eventually(async () => price() === '1.5', { what: 'the good catalog to be read again' });
    await h.db.db.update(modelCatalog).set({ priceInputPerMTok: '1' }).where(eq(modelCatalog.id, 'claude-haiku-4-5'));
  });

  it('warns at start-up for each configured model whose key variable is unset', async () => {
    const lines: { msg: string; model?: string; variable?: string; level: number }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const env = { ...h.env, ANTHROPIC_API_KEY: '', METRICS_PORT: '0' };
    const config = readWorkerConfig(env);
    const runtime = await startWorkerRuntime({ config, log: pino({ level: 'warn' }, sink), processMetrics: false });
    await runtime.close();
    expect(lines.filter((l) => l.variable)).toEqual([expect.objectContaining({ level: 40, model: 'claude-sonnet-4-6', variable: 'ANTHROPIC_API_KEY', msg: expect.stringMatching(/ANTHROPIC_API_KEY is not set/) })]);
  });
});
