/**
 * The Chat Completions request built from a catalog row, and the classification of the vendors'
 * errors into the closed set: each new outcome from the simulator's vendor-shaped answers through
 * the official SDKs over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findModel } from '../shared/default-catalog.ts';
import type { ModelSpec } from '../shared/models.ts';
import { strictWorkflowSchema } from '../shared/workflow-schema.ts';
import { AnthropicLlmClient } from '../worker/llm/anthropic-client.ts';
import type { LlmCall, LlmClient } from '../worker/llm/llm-client.ts';
import { chatCompletionParams, OpenAiLlmClient, SCHEMA_INSTRUCTIONS } from '../worker/llm/openai-client.ts';
import { SYSTEM_PROMPT, userPrompt } from '../worker/prompt.ts';
import { goal, PLUGINS } from './helpers/harness.ts';
import { startSimulator, type Simulator } from './simulator/server.ts';

const base = findModel('gpt-4o-mini')!;
const row = (changes: Partial<ModelSpec>): ModelSpec => ({ ...base, ...changes });
const callFor = (model: ModelSpec, text = 'Summarise my inbox'): LlmCall => ({
  model,
  systemPrompt: SYSTEM_PROMPT,
  userPrompt: userPrompt({ userId: 'u', agentId: 'a', userGoal: text, availablePlugins: PLUGINS }),
  maxOutputTokens: 4_000,
  signal: new AbortController().signal,
  timeoutMs: 5_000,
});

describe('the Chat Completions request follows the row', () => {
  it('json_schema (strict), temperature, max_completion_tokens', () => {
    const p = chatCompletionParams(callFor(base)) as unknown as Record<string, unknown>;
    expect(p).toMatchObject({ model: 'gpt-4o-mini-2024-07-18', temperature: 0.2, max_completion_tokens: 4_000, response_format: { type: 'json_schema', json_schema: { strict: true, schema: strictWorkflowSchema } } });
    expect(p).not.toHaveProperty('max_tokens');
    expect(p).not.toHaveProperty('reasoning_effort');
  });

  it('a reasoning model: no temperature, its reasoning effort', () => {
    const p = chatCompletionParams(callFor(findModel('gpt-6-luna')!)) as unknown as Record<string, unknown>;
    expect(p).not.toHaveProperty('temperature');
    expect(p).toMatchObject({ reasoning_effort: 'low', max_completion_tokens: 4_000 });
  });

  it('tool: forced function call with the strict schema', () => {
    const p = chatCompletionParams(callFor(row({ structuredOutput: 'tool' }))) as unknown as Record<string, unknown>;
    expect(p).not.toHaveProperty('response_format');
    expect(p).toMatchObject({ tools: [{ type: 'function', function: { name: 'submit_workflow', strict: true, parameters: strictWorkflowSchema } }], tool_choice: { type: 'function', function: { name: 'submit_workflow' } } });
  });

  it('json_object and prompt: the schema goes into the instructions; max_tokens when the row says so', () => {
    for (const mode of ['json_object', 'prompt'] as const) {
      const p = chatCompletionParams(callFor(row({ structuredOutput: mode, tokenLimitParam: 'max_tokens', temperature: null }))) as unknown as { messages: { content: string }[] } & Record<string, unknown>;
      expect(p.messages[0]!.content).toBe(SYSTEM_PROMPT + SCHEMA_INSTRUCTIONS);
      expect(p).toMatchObject({ max_tokens: 4_000 });
      expect(p).not.toHaveProperty('max_completion_tokens');
      expect(p).not.toHaveProperty('temperature');
      if (mode === 'json_object') expect(p.response_format).toEqual({ type: 'json_object' });
      else expect(p).not.toHaveProperty('response_format');
    }
  });
});

describe('vendor errors are classified', () => {
  let sim: Simulator;
  let openai: LlmClient;
  let anthropic: LlmClient;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, seed: 3 });
    openai = new OpenAiLlmClient({ apiKey: 'sk-test', baseURL: `${sim.url}/v1` });
    anthropic = new AnthropicLlmClient({ apiKey: 'sk-ant-test', baseURL: sim.url });
  });
  afterAll(async () => {
    await sim?.close();
  });

  const ask = (client: LlmClient, model: ModelSpec, directive: string | null) =>
    client.call({ ...callFor(model, directive ? goal('Draft replies', `*=${directive}`) : 'Draft replies') });

  const cases = [
    ['quota', 'quota_exhausted'],
    ['model_unavailable', 'model_unavailable'],
    ['bad_request', 'bad_request'],
    ['auth', 'auth_error'],
    ['rate_limit', 'rate_limit'],
  ] as const;
  for (const [fault, outcome] of cases) {
    it(`${fault} → ${outcome}, in each vendor's shape`, async () => {
      expect(await ask(openai, base, fault)).toMatchObject({ kind: 'failure', outcome });
      expect(await ask(anthropic, findModel('claude-sonnet-4-6')!, fault)).toMatchObject({ kind: 'failure', outcome });
    });
  }

  it('a billing 429 carries no retry-after pause; a retired model is model_unavailable, not auth_error', async () => {
    expect(await ask(openai, base, 'quota')).toMatchObject({ outcome: 'quota_exhausted', retryAfterMs: null, httpStatus: 429 });
    expect(await ask(anthropic, findModel('claude-sonnet-4')!, null)).toMatchObject({ outcome: 'model_unavailable', httpStatus: 404 });
  });

  it('a reasoning model sent a temperature is a bad_request; without one it answers', async () => {
    expect(await ask(openai, row({ apiModel: 'gpt-6-luna', temperature: 0.2 }), null)).toMatchObject({ outcome: 'bad_request', httpStatus: 400 });
    expect(await ask(openai, findModel('gpt-6-luna')!, null)).toMatchObject({ kind: 'answer' });
    expect(await ask(anthropic, findModel('claude-opus-4-8')!, null)).toMatchObject({ kind: 'answer' });
    expect(await ask(anthropic, { ...findModel('claude-opus-4-8')!, temperature: 0.2 }, null)).toMatchObject({ outcome: 'bad_request' });
  });

  it('forced function calling: the arguments are the answer', async () => {
    const r = await ask(openai, row({ structuredOutput: 'tool' }), null);
    expect(r).toMatchObject({ kind: 'answer', finish: 'complete' });
    expect(r.kind === 'answer' && JSON.parse(r.text!)).toHaveProperty('pilot_steps');
  });

  it('an openai-compatible model in prompt mode answers text that the checker reads', async () => {
    const r = await ask(openai, row({ id: 'acme', provider: 'openai-compatible', apiModel: 'acme-small', structuredOutput: 'prompt', temperature: null }), null);
    expect(r).toMatchObject({ kind: 'answer', finish: 'complete' });
  });
});
