/**
 * The HTTP client under both vendor SDKs (worker/llm/node-http-fetch.ts), through the real SDKs
 * against the simulator: what the worker sees when the vendor answers, refuses, hangs, never
 * ends its body, or sends more than the client takes.
 */
import { execFileSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findModel } from '../shared/default-catalog.ts';
import { AnthropicLlmClient } from '../worker/llm/anthropic-client.ts';
import type { LlmClient, LlmResult } from '../worker/llm/llm-client.ts';
import { createNodeHttpFetch, type NodeHttpFetch, ResponseBudget } from '../worker/llm/node-http-fetch.ts';
import { chatCompletionBody, chatCompletionParams, OpenAiLlmClient } from '../worker/llm/openai-client.ts';
import { createWorkerMetrics } from '../worker/metrics.ts';
import { SYSTEM_PROMPT, userPrompt } from '../worker/prompt.ts';
import { startSimulator, type Simulator } from './simulator/server.ts';
import { eventually, goal, PLUGINS } from './helpers/harness.ts';

let sim: Simulator;
let fetch: NodeHttpFetch;
let small: NodeHttpFetch;
const clients: Record<string, (f: NodeHttpFetch) => LlmClient> = {};

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 7 });
  fetch = createNodeHttpFetch({ maxSockets: 8 });
  small = createNodeHttpFetch({ maxSockets: 2, maxResponseBytes: 64 * 1024 });
  clients['gpt-4o-mini'] = (f) => new OpenAiLlmClient({ apiKey: 'sk-test', baseURL: `${sim.url}/v1`, fetch: f });
  clients['claude-sonnet-4-6'] = (f) => new AnthropicLlmClient({ apiKey: 'sk-ant-test', baseURL: sim.url, fetch: f });
});
afterAll(async () => {
  fetch?.close();
  small?.close();
  await sim?.close();
});

function call(modelId: string, directive: string | null, options: { fetch?: NodeHttpFetch; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<LlmResult> {
  const model = findModel(modelId)!;
  const text = goal('Email me a daily summary of new sheet rows', ...(directive ? [`${modelId}=${directive}`] : []));
  return clients[modelId]!(options.fetch ?? fetch).call({
    model,
    systemPrompt: SYSTEM_PROMPT,
    userPrompt: userPrompt({ userId: 'u', agentId: 'a', userGoal: text, availablePlugins: PLUGINS }),
    maxOutputTokens: 2_000,
    signal: options.signal ?? new AbortController().signal,
    timeoutMs: options.timeoutMs ?? 5_000,
  });
}

describe.each(['gpt-4o-mini', 'claude-sonnet-4-6'])('%s through the lean HTTP client', (modelId) => {
  it('answers with the workflow and the usage, over kept-alive connections', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => call(modelId, null)));
    for (const r of results) {
      expect(r.kind).toBe('answer');
      if (r.kind !== 'answer') continue;
      expect(r.usage.outputTokens).toBeGreaterThan(0);
      expect(r.hasStructured ? r.structured : JSON.parse(r.text!)).toHaveProperty('pilot_steps');
    }
  });

  it('a 429 is a rate limit with the retry-after the vendor sent', async () => {
    const r = await call(modelId, 'rate_limit');
    expect(r).toMatchObject({ kind: 'failure', outcome: 'rate_limit', httpStatus: 429 });
    expect(r.kind === 'failure' && r.retryAfterMs).toBeGreaterThan(0);
  });

  it('a body that never ends is a timeout at the attempt deadline, and the next call works', async () => {
    const started = performance.now();
    const r = await call(modelId, 'endless', { timeoutMs: 400 });
    expect(r).toMatchObject({ kind: 'failure', outcome: 'timeout', aborted: false });
    expect(performance.now() - started).toBeLessThan(3_000);
    expect((await call(modelId, null)).kind).toBe('answer');
  });

  it('shutdown aborts a call in flight: aborted, not a failure of the model', async () => {
    const stop = new AbortController();
    const pending = call(modelId, 'hang', { signal: stop.signal });
    setTimeout(() => stop.abort(new Error('shutdown')), 100);
    expect(await pending).toMatchObject({ kind: 'failure', aborted: true });
  });

  it('calls in flight under one shutdown signal share one listener on it, and all stop with it', async () => {
    const stop = new AbortController();
    const many = createNodeHttpFetch({ maxSockets: 40 });
    try {
      const hung = () => sim.stats().byModel[modelId]?.hang ?? 0;
      const before = hung();
      // A long attempt timeout: only the stop may end these calls, however slow the machine.
      const pending = Array.from({ length: 40 }, () => call(modelId, 'hang', { signal: stop.signal, fetch: many, timeoutMs: 120_000 }));
      expect(getEventListeners(stop.signal, 'abort')).toHaveLength(1);
      // Every call reached the vendor before the stop.
      await eventually(async () => hung() >= before + 40, { what: '40 calls in flight' });
      stop.abort(new Error('shutdown'));
      const results = await Promise.all(pending);
      expect(results.every((r) => r.kind === 'failure' && r.aborted)).toBe(true);
      expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
    } finally {
      many.close();
    }
  });

  it('an answer larger than the client takes fails as an API error without holding it', async () => {
    const r = await call(modelId, 'huge', { fetch: small });
    expect(r).toMatchObject({ kind: 'failure', outcome: 'api_error' });
    expect(r.kind === 'failure' && r.message).toMatch(/larger than 65536 bytes/);
    expect((await call(modelId, null, { fetch: small })).kind).toBe('answer');
  });
});

it('the OpenAI request body, serialised ahead in part, is byte for byte what the SDK would send', () => {
  const model = findModel('gpt-4o-mini')!;
  const base = { model, maxOutputTokens: 2_000, signal: new AbortController().signal, timeoutMs: 5_000 };
  const userGoal = 'Quote "this", a \\ back-slash, a new\nline, \u2028, emoji 🚀, a lone \ud800 surrogate and NUL-free text';
  for (const systemPrompt of [SYSTEM_PROMPT, 'another system prompt "quoted"', SYSTEM_PROMPT]) {
    const llmCall = { ...base, systemPrompt, userPrompt: userPrompt({ userId: 'u', agentId: 'a', userGoal, availablePlugins: PLUGINS }) };
    expect(chatCompletionBody(llmCall)).toBe(JSON.stringify(chatCompletionParams(llmCall)));
  }
});

it('the OpenAI SDK formats request details only when it logs at debug (the postinstall guard)', async () => {
  const logged = (level: 'debug' | 'warn') => {
    const lines: { message: string; details: unknown }[] = [];
    const log = (message: string, details?: unknown) => void lines.push({ message, details });
    const sdk = new OpenAI({ apiKey: 'sk-test', baseURL: `${sim.url}/v1`, fetch, maxRetries: 0, logLevel: level, logger: { debug: log, info: log, warn: log, error: log } });
    return { lines, sdk };
  };
  const ask = (sdk: OpenAI) => sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: userPrompt({ userId: 'u', agentId: 'a', userGoal: goal('Email me a daily summary of new sheet rows'), availablePlugins: PLUGINS }) }] });

  const debug = logged('debug');
  await ask(debug.sdk);
  const sending = debug.lines.find((l) => /sending request/.test(l.message));
  expect(sending?.details).toMatchObject({ method: 'post', headers: { authorization: '***' } });
  expect(debug.lines.some((l) => /response parsed/.test(l.message))).toBe(true);

  const quiet = logged('warn');
  await ask(quiet.sdk);
  expect(quiet.lines).toEqual([]);
});

it('answers that together pass the response budget wait for room instead of filling memory, and all arrive', async () => {
  const mb = 1024 * 1024;
  const budgeted = createNodeHttpFetch({ maxSockets: 8, maxBufferedBytes: 12 * mb });
  try {
    // Five 10 MB answers at once: 50 MB without the budget.
    const results = await Promise.all(Array.from({ length: 5 }, () => call('gpt-4o-mini', 'huge', { fetch: budgeted, timeoutMs: 60_000 })));
    for (const r of results) expect(r).toMatchObject({ kind: 'answer', usage: { outputTokens: expect.any(Number) } });
    const { peakBytes, bytes, waiting, waitedTotal } = budgeted.buffered();
    // The budget, plus the one answer allowed to read on past it, plus a chunk per waiting answer.
    expect(peakBytes).toBeLessThanOrEqual(12 * mb + 11 * mb + 5 * 64 * 1024);
    expect(peakBytes).toBeGreaterThan(10 * mb);
    expect({ bytes, waiting }).toEqual({ bytes: 0, waiting: 0 });
    expect(waitedTotal).toBeGreaterThan(0);
    // What an operator sees of it: the worker's metrics read the same numbers at scrape time.
    const registry = new Registry();
    createWorkerMetrics(registry, [], budgeted);
    const text = await registry.metrics();
    expect(text).toContain(`orchestrator_vendor_response_buffer_bytes{kind="limit"} ${12 * mb}`);
    expect(text).toContain('orchestrator_vendor_response_buffer_bytes{kind="held"} 0');
    expect(text).toContain('orchestrator_vendor_responses_waiting 0');
    expect(text).toContain(`orchestrator_vendor_response_waits_total ${waitedTotal}`);
    // A counter: a second scrape does not count the same waits again.
    expect(await registry.metrics()).toContain(`orchestrator_vendor_response_waits_total ${waitedTotal}`);
  } finally {
    budgeted.close();
  }
});

it('the response budget resumes waiting answers in order, and always lets one read on', () => {
  const budget = new ResponseBudget(100);
  const stream = () => ({ paused: false, pause() { this.paused = true; }, resume() { this.paused = false; } });
  const [a, b, c] = [stream(), stream(), stream()];
  const [ha, hb, hc] = [budget.open(a), budget.open(b), budget.open(c)];
  ha.add(60);
  hb.add(60); // over the budget with no leader yet: b reads on as the leader
  expect([a.paused, b.paused]).toEqual([false, false]);
  ha.add(10); // over, and b leads: a waits
  hc.add(10); // c too
  expect([a.paused, b.paused, c.paused]).toEqual([true, false, true]);
  expect(budget.stats()).toEqual({ limitBytes: 100, bytes: 140, peakBytes: 140, waiting: 2, waitedTotal: 2 });
  hb.release(); // 80 held, under the budget: the waiting resume in arrival order
  expect([a.paused, c.paused]).toEqual([false, false]);
  expect(budget.stats()).toMatchObject({ bytes: 80, waiting: 0 });
  ha.release();
  hc.release();
  ha.release(); // twice is once
  expect(budget.stats()).toMatchObject({ bytes: 0, waiting: 0 });

  // While a leader reads on, room that frees up resumes as many as it takes a chunk (64 KiB) each.
  const k = 1024;
  const wide = new ResponseBudget(200 * k);
  const [s1, s2, s3, s4, s5] = [stream(), stream(), stream(), stream(), stream()];
  const [h1, h2, h3, h4, h5] = [wide.open(s1), wide.open(s2), wide.open(s3), wide.open(s4), wide.open(s5)];
  h1.add(150 * k);
  h2.add(100 * k); // the leader
  for (const h of [h3, h4, h5]) h.add(10 * k);
  expect([s3.paused, s4.paused, s5.paused]).toEqual([true, true, true]);
  h1.release(); // 70 KiB of room: two resume, the third waits for more
  expect([s2.paused, s3.paused, s4.paused, s5.paused]).toEqual([false, false, false, true]);
  expect(wide.stats().waiting).toBe(1);
  h2.release(); // the leader is done: the last one goes on
  expect(s5.paused).toBe(false);
  for (const h of [h3, h4, h5]) h.release();
  expect(wide.stats()).toMatchObject({ bytes: 0, waiting: 0 });
});

it('a vendor that refuses the connection is an API error', async () => {
  const r = await new OpenAiLlmClient({ apiKey: 'sk-test', baseURL: 'http://127.0.0.1:1/v1', fetch }).call({
    model: findModel('gpt-4o-mini')!,
    systemPrompt: 's',
    userPrompt: 'u',
    maxOutputTokens: 10,
    signal: new AbortController().signal,
    timeoutMs: 2_000,
  });
  expect(r).toMatchObject({ kind: 'failure', outcome: 'api_error', httpStatus: null });
  expect(r.kind === 'failure' && r.message).toMatch(/ECONNREFUSED/);
});

it('speaks https to a vendor, trusting only certificates it should', async () => {
  // A TLS front for the simulator with a throwaway self-signed certificate for 127.0.0.1.
  const dir = mkdtempSync(path.join(tmpdir(), 'wo-tls-'));
  const [keyFile, certFile] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const cert = readFileSync(certFile, 'utf8');
  const front = createTlsServer({ key: readFileSync(keyFile), cert }, (tls) => {
    const upstream = connect(sim.port, '127.0.0.1');
    tls.pipe(upstream).pipe(tls);
    tls.on('error', () => upstream.destroy());
    upstream.on('error', () => tls.destroy());
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const baseURL = `https://127.0.0.1:${(front.address() as AddressInfo).port}/v1`;
  const trusting = createNodeHttpFetch({ extraCaCertificates: [cert] });
  const ask = (f: NodeHttpFetch) =>
    new OpenAiLlmClient({ apiKey: 'sk-test', baseURL, fetch: f }).call({
      model: findModel('gpt-4o-mini')!,
      systemPrompt: SYSTEM_PROMPT,
      userPrompt: userPrompt({ userId: 'u', agentId: 'a', userGoal: 'Email me new sheet rows', availablePlugins: PLUGINS }),
      maxOutputTokens: 2_000,
      signal: new AbortController().signal,
      timeoutMs: 5_000,
    });
  try {
    expect((await ask(trusting)).kind).toBe('answer');
    // The default trust store does not know the certificate: a connection error that says why.
    const refused = await ask(fetch);
    expect(refused).toMatchObject({ kind: 'failure', outcome: 'api_error' });
    expect(refused.kind === 'failure' && refused.message).toMatch(/self.signed|certificate/i);
  } finally {
    trusting.close();
    await new Promise((resolve) => front.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});
