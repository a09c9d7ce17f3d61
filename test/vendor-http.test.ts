/**
 * Both vendor SDKs on their own HTTP path (Node's fetch), configured by the adapters (attempt
 * timeout, no SDK retries), against the simulator: what the worker sees when the vendor answers,
 * refuses, hangs, never ends its body, cannot be reached, or sits behind https with a private CA.
 */
import { execFile, execFileSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findModel } from '../shared/default-catalog.ts';
import { AnthropicLlmClient } from '../worker/llm/anthropic-client.ts';
import type { LlmClient, LlmResult } from '../worker/llm/llm-client.ts';
import { OpenAiLlmClient } from '../worker/llm/openai-client.ts';
import { SYSTEM_PROMPT, userPrompt } from '../worker/prompt.ts';
import { startSimulator, type Simulator } from './simulator/server.ts';
import { eventually, goal, PLUGINS } from './helpers/harness.ts';
import { PROJECT_ROOT } from './helpers/processes.ts';

let sim: Simulator;
const clients: Record<string, LlmClient> = {};

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 7 });
  clients['gpt-4o-mini'] = new OpenAiLlmClient({ apiKey: 'sk-test', baseURL: `${sim.url}/v1` });
  clients['claude-sonnet-4-6'] = new AnthropicLlmClient({ apiKey: 'sk-ant-test', baseURL: sim.url });
});
afterAll(async () => {
  await sim?.close();
});

function call(modelId: string, directive: string | null, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<LlmResult> {
  const model = findModel(modelId)!;
  const text = goal('Email me a daily summary of new sheet rows', ...(directive ? [`${modelId}=${directive}`] : []));
  return clients[modelId]!.call({
    model,
    systemPrompt: SYSTEM_PROMPT,
    userPrompt: userPrompt({ userId: 'u', agentId: 'a', userGoal: text, availablePlugins: PLUGINS }),
    maxOutputTokens: 2_000,
    signal: options.signal ?? new AbortController().signal,
    timeoutMs: options.timeoutMs ?? 5_000,
  });
}

describe.each(['gpt-4o-mini', 'claude-sonnet-4-6'])('%s through its SDK', (modelId) => {
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
    const hung = () => sim.stats().byModel[modelId]?.hang ?? 0;
    const before = hung();
    // A long attempt timeout: only the stop may end these calls, however slow the machine.
    const pending = Array.from({ length: 40 }, () => call(modelId, 'hang', { signal: stop.signal, timeoutMs: 120_000 }));
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(1);
    // Every call reached the vendor before the stop.
    await eventually(async () => hung() >= before + 40, { what: '40 calls in flight' });
    stop.abort(new Error('shutdown'));
    const results = await Promise.all(pending);
    expect(results.every((r) => r.kind === 'failure' && r.aborted)).toBe(true);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });
});

it('a vendor that refuses the connection is an API error', async () => {
  // A port just freed, so nothing listens on it (fetch refuses some low ports, 1 among them, itself).
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const r = await new OpenAiLlmClient({ apiKey: 'sk-test', baseURL: `http://127.0.0.1:${port}/v1` }).call({
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

/** One call from a separate Node process with the given environment: its trust store is fixed at start. */
async function callInChild(baseURL: string, env: NodeJS.ProcessEnv): Promise<{ kind: string; message: string | null }> {
  const script = `
    import { findModel } from './shared/default-catalog.ts';
    import { OpenAiLlmClient } from './worker/llm/openai-client.ts';
    import { SYSTEM_PROMPT, userPrompt } from './worker/prompt.ts';
    const r = await new OpenAiLlmClient({ apiKey: 'sk-test', baseURL: process.env.BASE_URL }).call({
      model: findModel('gpt-4o-mini'), systemPrompt: SYSTEM_PROMPT,
      userPrompt: userPrompt({ userId: 'u', agentId: 'a', userGoal: 'Email me new sheet rows', availablePlugins: JSON.parse(process.env.PLUGINS) }),
      maxOutputTokens: 2000, signal: new AbortController().signal, timeoutMs: 5000,
    });
    process.stdout.write(JSON.stringify({ kind: r.kind, message: r.kind === 'failure' ? r.message : null }));`;
  // Asynchronous: the simulator behind the TLS front runs in this process.
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_ROOT, env: { ...process.env, ...env, BASE_URL: baseURL, PLUGINS: JSON.stringify(PLUGINS) } });
  return JSON.parse(stdout) as { kind: string; message: string | null };
}

it('speaks https to a vendor, trusting a private CA given as NODE_EXTRA_CA_CERTS and nothing else', async () => {
  // A TLS front for the simulator with a throwaway self-signed certificate for 127.0.0.1.
  const dir = mkdtempSync(path.join(tmpdir(), 'wo-tls-'));
  const [keyFile, certFile] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const front = createTlsServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (tls) => {
    const upstream = connect(sim.port, '127.0.0.1');
    tls.pipe(upstream).pipe(tls);
    tls.on('error', () => upstream.destroy());
    upstream.on('error', () => tls.destroy());
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const baseURL = `https://127.0.0.1:${(front.address() as AddressInfo).port}/v1`;
  try {
    // How production trusts a private gateway: Node adds the file to its default store.
    expect(await callInChild(baseURL, { NODE_EXTRA_CA_CERTS: certFile })).toEqual({ kind: 'answer', message: null });
    // The default trust store does not know the certificate: a connection error that says why.
    const refused = await new OpenAiLlmClient({ apiKey: 'sk-test', baseURL }).call({
      model: findModel('gpt-4o-mini')!,
      systemPrompt: SYSTEM_PROMPT,
      userPrompt: userPrompt({ userId: 'u', agentId: 'a', userGoal: 'Email me new sheet rows', availablePlugins: PLUGINS }),
      maxOutputTokens: 2_000,
      signal: new AbortController().signal,
      timeoutMs: 5_000,
    });
    expect(refused).toMatchObject({ kind: 'failure', outcome: 'api_error' });
    expect(refused.kind === 'failure' && refused.message).toMatch(/self.signed|certificate/i);
  } finally {
    await new Promise((resolve) => front.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});
