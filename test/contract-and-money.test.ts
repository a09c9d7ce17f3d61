/** The job contract at the edge, exact money, and configuration errors that name the variable. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readWorkerConfig } from '../shared/config.ts';
import { InvalidRequestError } from '../shared/errors.ts';
import { parseGenerationRequest } from '../shared/jobs.ts';
import { costOf, formatUsd, parseUsd } from '../shared/money.ts';
import { DEFAULT_CATALOG, findModel, MODEL_CATALOG } from '../shared/default-catalog.ts';
import { resolveSettings } from '../shared/settings.ts';

const valid = { userId: 'u1', agentId: 'a1', userGoal: 'Summarise my inbox daily', availablePlugins: ['google-mail', { key: 'slack', actions: ['post_message'] }] };

function fieldsOf(data: unknown): string[] {
  try {
    parseGenerationRequest(data);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    return (err as InvalidRequestError).errors.map((e) => e.path);
  }
}

describe('job contract', () => {
  it('accepts a valid request, plugin keys and plugin objects alike', () => {
    expect(parseGenerationRequest(valid)).toEqual(valid);
  });
  const bad: Array<[string, unknown, string]> = [
    ['a missing userId', { ...valid, userId: undefined }, '/userId'],
    ['a numeric agentId', { ...valid, agentId: 7 }, '/agentId'],
    ['an empty goal', { ...valid, userGoal: '' }, '/userGoal'],
    ['a blank goal', { ...valid, userGoal: '   ' }, '/userGoal'],
    ['a goal over 4,000 characters', { ...valid, userGoal: 'x'.repeat(4001) }, '/userGoal'],
    ['a 5 MB goal', { ...valid, userGoal: 'x'.repeat(5 * 1024 * 1024) }, '/userGoal'],
    ['a NUL byte in the goal', { ...valid, userGoal: 'hello\u0000world' }, '/userGoal'],
    ['no plugins', { ...valid, availablePlugins: [] }, '/availablePlugins'],
    ['a deadline over 24 hours', { ...valid, deadlineMs: 86_400_001 }, '/deadlineMs'],
    ['a deadline under a second', { ...valid, deadlineMs: 999 }, '/deadlineMs'],
    ['a fractional deadline', { ...valid, deadlineMs: 1500.5 }, '/deadlineMs'],
    ['10,000 plugins', { ...valid, availablePlugins: Array.from({ length: 10_000 }, (_, i) => `p${i}`) }, '/availablePlugins'],
    ['a plugin object without key', { ...valid, availablePlugins: [{ actions: ['x'] }] }, '/availablePlugins/0'],
    ['an unknown property', { ...valid, priority: 'high' }, '/priority'],
    ['a __proto__ key', JSON.parse(JSON.stringify(valid).replace('{', '{"__proto__":{"admin":true},')), '/__proto__'],
    ['a constructor key', { ...valid, constructor: { prototype: {} } }, '/constructor'],
  ];
  for (const [what, data, path] of bad) {
    it(`refuses ${what}, naming ${path}`, () => {
      expect(fieldsOf(data)).toContain(path);
    });
  }
  it('refuses something that is not an object', () => {
    expect(() => parseGenerationRequest('hello')).toThrow(InvalidRequestError);
    expect(() => parseGenerationRequest(null)).toThrow(InvalidRequestError);
  });
});

describe('money', () => {
  it('prices usage exactly, failed attempts included', () => {
    const mini = findModel('gpt-4o-mini')!;
    expect(formatUsd(costOf(mini, { inputTokens: 1234, outputTokens: 567, cachedInputTokens: 1024, cacheWriteTokens: 0 }))).toBe('0.000602100000');
    const sonnet = findModel('claude-sonnet-4-6')!;
    // 1,000 × 3.00 + 1,500 × 15.00 + 2,000 × 0.30 + 400 × 3.75 per 1M = 0.0276
    expect(formatUsd(costOf(sonnet, { inputTokens: 1000, outputTokens: 1500, cachedInputTokens: 2000, cacheWriteTokens: 400 }))).toBe('0.027600000000');
  });
  it('sums a million attempts without drift', () => {
    const mini = findModel('gpt-4o-mini')!;
    const one = costOf(mini, { inputTokens: 1, outputTokens: 1, cachedInputTokens: 1, cacheWriteTokens: 0 });
    let total = 0n;
    for (let i = 0; i < 1_000_000; i++) total += one;
    expect(formatUsd(total)).toBe('0.825000000000');
  });
  it('parses and formats decimal amounts, refusing what is not exact', () => {
    expect(formatUsd(parseUsd('3.75'))).toBe('3.750000000000');
    expect(() => parseUsd('1e-3')).toThrow(/exact USD amount/);
    expect(() => parseUsd('0.0000000000001')).toThrow();
  });
  it('every catalog model is priced', () => {
    for (const m of MODEL_CATALOG) expect(costOf(m, { inputTokens: 1000, outputTokens: 1000, cachedInputTokens: 0, cacheWriteTokens: 0 })).toBeGreaterThan(0n);
  });
});

describe('settings validation', () => {
  it('refuses unknown models and a fallback equal to the primary while enabled', () => {
    expect(() => resolveSettings({ primaryModel: 'gpt-5-imaginary', fallbackModel: 'claude-sonnet-4-6', enableFallback: true }, DEFAULT_CATALOG)).toThrow(/orchestrator_primary_model = "gpt-5-imaginary" is not a model in the catalog/);
    expect(() => resolveSettings({ primaryModel: 'gpt-4o-mini', fallbackModel: 'gpt-4o-mini', enableFallback: true }, DEFAULT_CATALOG)).toThrow(/must differ/);
    expect(resolveSettings({ primaryModel: 'gpt-4o-mini', fallbackModel: 'gpt-4o-mini', enableFallback: false }, DEFAULT_CATALOG).enableFallback).toBe(false);
    expect(() => resolveSettings({ primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: 'yes' }, DEFAULT_CATALOG)).toThrow(/true or false/);
  });
});

describe('configuration', () => {
  it('has sensible defaults', () => {
    const c = readWorkerConfig({});
    expect(c).toMatchObject({ redis: { target: { mode: 'single', url: 'redis://127.0.0.1:6379' }, queuePrefix: 'wo' }, databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres', concurrency: 50, metricsPort: 9464 });
  });
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ WORKER_CONCURRENCY: 'lots' }, /WORKER_CONCURRENCY must be a whole number/],
    [{ WORKER_CONCURRENCY: '0' }, /WORKER_CONCURRENCY must be between/],
    [{ REDIS_URL: 'http://x' }, /REDIS_URL must use redis:/],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL is not a valid URL/],
    [{ QUEUE_PREFIX: 'a:b' }, /QUEUE_PREFIX/],
    [{ METRICS_PORT: '70000' }, /METRICS_PORT must be between/],
    [{ MODEL_TIMEOUTS_MS: 'gpt-9=10' }, /MODEL_TIMEOUTS_MS for gpt-9 must be between 100 and 600000/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ DATABASE_RANDOM_PAGE_COST: 'fast' }, /DATABASE_RANDOM_PAGE_COST must be a positive number/],
    [{ DATABASE_RANDOM_PAGE_COST: '0' }, /DATABASE_RANDOM_PAGE_COST must be a positive number/],
  ];
  for (const [env, message] of bad) {
    it(`stops on ${JSON.stringify(env)}`, () => {
      expect(() => readWorkerConfig(env)).toThrow(message);
    });
  }
  it('plans with an SSD page cost unless told to leave it to the server', () => {
    expect(readWorkerConfig({}).databaseRandomPageCost).toBe('1.1');
    expect(readWorkerConfig({ DATABASE_RANDOM_PAGE_COST: '2' }).databaseRandomPageCost).toBe('2');
    expect(readWorkerConfig({ DATABASE_RANDOM_PAGE_COST: 'server' }).databaseRandomPageCost).toBeUndefined();
  });
  it('accepts a Redis Cluster hash-tag prefix', () => {
    expect(readWorkerConfig({ QUEUE_PREFIX: '{wf}' }).redis.queuePrefix).toBe('{wf}');
  });
});

describe('a service started with a bad setting', () => {
  // As production starts them: the process exits 78 (EX_CONFIG) before touching Redis or Postgres.
  it.each([
    ['worker/main.ts', { WORKER_CONCURRENCY: 'lots' }, 'worker', 'WORKER_CONCURRENCY'],
    ['producer/main.ts', { PORT: '-1', AUTH_DISABLED: 'true' }, 'producer', 'PORT'],
  ])('%s exits 78 with a message naming the variable', (entry, env, service, variable) => {
    const run = spawnSync(process.execPath, [entry], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain(`${service}: configuration error:`);
    expect(run.stderr).toContain(variable);
  });
});
