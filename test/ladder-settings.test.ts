/**
 * The escalation ladder's settings: the fallback chain (its head is the fallback model, and a
 * write to either keeps both in step), repair attempts and the cost cap; validated by the
 * settings API with field errors, stored, in the history, and resolved for the worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProducer } from '../producer/server.ts';
import { DEFAULT_CATALOG } from '../shared/default-catalog.ts';
import { Registry } from 'prom-client';
import { lifecycleWarnings } from '../producer/model-lifecycle.ts';
import { createOperationsMetrics } from '../worker/ops-metrics.ts';
import { configuredModels, costCapOf, DEFAULT_SETTINGS, resolveSettings, SETTING_KEYS, settingsSnapshot } from '../shared/settings.ts';
import { systemSettingsConfig } from '../db/schema.ts';
import { inArray } from 'drizzle-orm';
import { CIRCUIT_MIN_CALLS, RedisModelCircuit } from '../shared/model-circuit.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { adminAuth, call, producerPool } from './helpers/producer.ts';

const SEED = { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true };

describe('resolveSettings with the ladder', () => {
  it('a snapshot of the seed three keys is a chain of one, no repair, no cap', () => {
    const s = resolveSettings(SEED, DEFAULT_CATALOG);
    expect(s).toMatchObject({ fallbackChain: ['claude-sonnet-4-6'], repairAttempts: 0, maxCostPerRequestUsd: null });
    expect(s.chain.map((m) => m.id)).toEqual(['claude-sonnet-4-6']);
    expect(costCapOf(s)).toBeNull();
    expect(settingsSnapshot(resolveSettings(DEFAULT_SETTINGS, DEFAULT_CATALOG))).toEqual(DEFAULT_SETTINGS);
  });

  it('resolves a chain of three with its models, repair and an exact cap', () => {
    const s = resolveSettings({ ...SEED, fallbackChain: ['claude-sonnet-4-6', 'gpt-6.1-sol', 'claude-opus-4-8'], repairAttempts: 2, maxCostPerRequestUsd: '0.05' }, DEFAULT_CATALOG);
    expect(s.chain.map((m) => m.id)).toEqual(['claude-sonnet-4-6', 'gpt-6.1-sol', 'claude-opus-4-8']);
    expect(s.repairAttempts).toBe(2);
    expect(costCapOf(s)).toBe(50_000_000_000n);
  });

  it('a stored chain whose head is not the fallback model takes the fallback model as its head', () => {
    const s = resolveSettings({ ...SEED, fallbackChain: ['gpt-4o', 'claude-sonnet-4-6', 'claude-opus-4-8'] }, DEFAULT_CATALOG);
    expect(s.fallbackChain).toEqual(['claude-sonnet-4-6', 'claude-opus-4-8']);
  });

  it('every chain step is a configured fallback model: its retirement is reported', () => {
    const s = resolveSettings({ ...SEED, fallbackChain: ['claude-sonnet-4-6', 'gpt-5'] }, DEFAULT_CATALOG);
    expect(configuredModels(s).map((c) => [c.role, c.step, c.model.id])).toEqual([['primary', 0, 'gpt-4o-mini'], ['fallback', 1, 'claude-sonnet-4-6'], ['fallback', 2, 'gpt-5']]);
    expect(configuredModels({ ...s, enableFallback: false }).map((c) => c.model.id)).toEqual(['gpt-4o-mini']);
    const warnings = lifecycleWarnings(s, new Date('2026-12-01T00:00:00Z'));
    expect(warnings.find((w) => w.model === 'gpt-5')).toMatchObject({ role: 'fallback', retired: false, daysLeft: 10 });
  });

  it('the worker exports the ladder it applies', async () => {
    let s = resolveSettings({ ...SEED, fallbackChain: ['claude-sonnet-4-6', 'gpt-6.1-sol'], repairAttempts: 2, maxCostPerRequestUsd: '0.25' }, DEFAULT_CATALOG);
    const registry = new Registry();
    createOperationsMetrics(registry, { current: () => s });
    const text = await registry.metrics();
    expect(text).toContain('orchestrator_ladder_setting{setting="chain_steps"} 2');
    expect(text).toContain('orchestrator_ladder_setting{setting="repair_attempts"} 2');
    expect(text).toContain('orchestrator_ladder_setting{setting="max_cost_per_request_usd"} 0.25');
    s = resolveSettings({ ...SEED, enableFallback: false }, DEFAULT_CATALOG);
    const off = await registry.metrics();
    expect(off).toContain('orchestrator_ladder_setting{setting="chain_steps"} 0');
    expect(off).not.toContain('setting="max_cost_per_request_usd"');
  });

  it.each([
    [{ fallbackChain: ['claude-sonnet-4-6', 'gpt-9'] }, /orchestrator_fallback_chain step 2 "gpt-9" is not a model in the catalog/],
    [{ fallbackChain: ['claude-sonnet-4-6', 'gpt-4o', 'gpt-4o'] }, /step 3 "gpt-4o" is already step 2/],
    [{ fallbackChain: ['claude-sonnet-4-6', 'gpt-4o-mini'] }, /step 2 "gpt-4o-mini" is the primary model/],
    [{ fallbackChain: ['claude-sonnet-4-6', 'a', 'b', 'c', 'd', 'e'] }, /must list 1 to 5 catalog models/],
    [{ repairAttempts: 4 }, /orchestrator_repair_attempts must be a whole number from 0 to 3, got 4/],
    [{ repairAttempts: 1.5 }, /orchestrator_repair_attempts/],
    [{ maxCostPerRequestUsd: '0' }, /orchestrator_max_cost_per_request_usd must be empty or above 0/],
    [{ maxCostPerRequestUsd: '-1' }, /orchestrator_max_cost_per_request_usd must be empty or a positive USD amount/],
  ])('refuses %j', (extra, message) => {
    expect(() => resolveSettings({ ...SEED, ...extra }, DEFAULT_CATALOG)).toThrow(message);
  });
});

let h: Harness;
let pool: ReturnType<typeof producerPool>;
let producer: RunningProducer;

beforeAll(async () => {
  h = await startHarness('ladder-settings');
  pool = producerPool(h.env);
  producer = await pool.start();
  await h.db.settings.update(DEFAULT_SETTINGS, 'db:init');
});

afterAll(async () => {
  await pool?.closeAll();
  await h?.close();
});

const put = (json: unknown) => call(producer.url, 'PUT', '/v1/admin/settings', { headers: adminAuth, json });
const get = () => call(producer.url, 'GET', '/v1/admin/settings', { headers: adminAuth });

describe('the settings API with the ladder', () => {
  it('stores a chain, repair attempts and a cap; the worker resolves them', async () => {
    const r = await put({ ...SEED, fallbackChain: ['claude-sonnet-4-6', 'claude-opus-4-8'], repairAttempts: 1, maxCostPerRequestUsd: '0.25' });
    expect(r.status, r.text).toBe(200);
    expect(r.body.settings).toEqual(SEED);
    expect(r.body.ladder).toEqual({ fallbackChain: ['claude-sonnet-4-6', 'claude-opus-4-8'], repairAttempts: 1, maxCostPerRequestUsd: '0.25' });
    const resolved = await h.db.settings.read();
    expect(resolved.chain.map((m) => m.id)).toEqual(['claude-sonnet-4-6', 'claude-opus-4-8']);
    expect(resolved).toMatchObject({ repairAttempts: 1, maxCostPerRequestUsd: '0.25' });
  });

  it('a write of the seed three keys keeps the ladder and moves the chain head with the fallback model', async () => {
    const r = await put({ ...SEED, fallbackModel: 'gpt-6.1-sol' });
    expect(r.status, r.text).toBe(200);
    expect(r.body.ladder).toEqual({ fallbackChain: ['gpt-6.1-sol', 'claude-opus-4-8'], repairAttempts: 1, maxCostPerRequestUsd: '0.25' });
    // A chain alone moves the fallback model with its head.
    const c = await put({ primaryModel: 'gpt-4o-mini', enableFallback: true, fallbackChain: ['claude-sonnet-4-6', 'gpt-6.1-sol'], maxCostPerRequestUsd: null });
    expect(c.status, c.text).toBe(200);
    expect(c.body.settings.fallbackModel).toBe('claude-sonnet-4-6');
    expect(c.body.ladder).toEqual({ fallbackChain: ['claude-sonnet-4-6', 'gpt-6.1-sol'], repairAttempts: 1, maxCostPerRequestUsd: null });
    const rows = await h.db.db.select().from(systemSettingsConfig).where(inArray(systemSettingsConfig.key, [SETTING_KEYS.fallbackModel, SETTING_KEYS.fallbackChain]));
    expect(Object.fromEntries(rows.map((x) => [x.key, x.value]))).toEqual({ [SETTING_KEYS.fallbackModel]: 'claude-sonnet-4-6', [SETTING_KEYS.fallbackChain]: ['claude-sonnet-4-6', 'gpt-6.1-sol'] });
  });

  it.each([
    [{ fallbackChain: ['claude-sonnet-4-6', 'gpt-9'] }, '/fallbackChain/1', 'unknown_model'],
    [{ fallbackChain: ['claude-sonnet-4-6', 'gpt-6.1-sol', 'gpt-6.1-sol'] }, '/fallbackChain/2', 'duplicate_model'],
    [{ fallbackChain: ['claude-sonnet-4-6', 'gpt-4o-mini'] }, '/fallbackChain/1', 'same_as_primary'],
    [{ fallbackChain: ['gpt-6.1-sol'] }, '/fallbackChain/0', 'chain_head_mismatch'],
    [{ repairAttempts: 7 }, '/repairAttempts', 'out_of_range'],
    [{ maxCostPerRequestUsd: '0.0000000000001' }, '/maxCostPerRequestUsd', 'invalid_amount'],
  ])('refuses %j with a field error', async (extra, path, code) => {
    const before = (await get()).body;
    const r = await put({ ...SEED, ...extra });
    expect(r.status, r.text).toBe(400);
    expect(r.body.error.code).toBe('INVALID_SETTINGS');
    expect(r.body.error.details).toContainEqual(expect.objectContaining({ path, code }));
    expect((await get()).body.ladder).toEqual(before.ladder);
  });

  it('refuses a retired model newly named in the chain, naming its replacement', async () => {
    const r = await put({ ...SEED, fallbackChain: ['claude-sonnet-4-6', 'claude-sonnet-4'] });
    expect(r.status, r.text).toBe(400);
    expect(r.body.error.details).toEqual([expect.objectContaining({ path: '/fallbackChain', code: 'model_unavailable' })]);
    expect(r.body.error.message).toMatch(/orchestrator_fallback_chain = "claude-sonnet-4" was retired by its vendor on 2026-06-15; its replacement is "claude-sonnet-4-6"/);
  });

  it('the history carries the ladder old → new', async () => {
    const r = await put({ ...SEED, repairAttempts: 3 });
    expect(r.status, r.text).toBe(200);
    const hist = await call(producer.url, 'GET', '/v1/admin/settings/history?limit=1', { headers: adminAuth });
    expect(hist.body.changes[0]).toMatchObject({ old: { repairAttempts: 1 }, new: { repairAttempts: 3, fallbackChain: ['claude-sonnet-4-6', 'gpt-6.1-sol'], maxCostPerRequestUsd: null } });
  });

  it('db:init on a database from before the ladder starts the chain at the stored fallback model', async () => {
    await h.db.db.delete(systemSettingsConfig).where(inArray(systemSettingsConfig.key, [SETTING_KEYS.fallbackChain, SETTING_KEYS.repairAttempts, SETTING_KEYS.maxCostPerRequestUsd]));
    await put({ ...SEED, fallbackModel: 'gpt-6.1-sol', fallbackChain: undefined });
    await h.db.db.delete(systemSettingsConfig).where(inArray(systemSettingsConfig.key, [SETTING_KEYS.fallbackChain]));
    expect((await h.db.settings.read()).fallbackChain).toEqual(['gpt-6.1-sol']);
    expect(await h.db.settings.initDefaults()).toEqual([SETTING_KEYS.fallbackChain]);
    expect((await get()).body.ladder.fallbackChain).toEqual(['gpt-6.1-sol']);
  });
});

describe('GET /v1/admin/circuits', () => {
  it('shows each model\'s circuit as the replicas share it, the configured ones marked', async () => {
    expect((await put({ ...SEED, fallbackChain: ['claude-sonnet-4-6'] })).status).toBe(200);
    const circuit = new RedisModelCircuit(h.redis, h.prefix);
    for (let i = 0; i < CIRCUIT_MIN_CALLS; i++) await circuit.record('gpt-4o-mini', true);
    const r = await call(producer.url, 'GET', '/v1/admin/circuits', { headers: adminAuth });
    expect(r.status, r.text).toBe(200);
    const byModel = new Map(r.body.circuits.map((c: { model: string }) => [c.model, c]));
    expect(byModel.get('gpt-4o-mini')).toMatchObject({ state: 'open', calls: CIRCUIT_MIN_CALLS, failures: CIRCUIT_MIN_CALLS, configured: true });
    expect(Date.parse((byModel.get('gpt-4o-mini') as { openedAt: string }).openedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(byModel.get('claude-sonnet-4-6')).toMatchObject({ state: 'closed', calls: 0, configured: true, openedAt: null });
    expect(byModel.get('gpt-6.1-sol')).toMatchObject({ state: 'closed', configured: false });
    expect((await call(producer.url, 'GET', '/v1/admin/circuits')).status).toBe(401);
  });
});
