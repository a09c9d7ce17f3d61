/**
 * The simulated model provider, driven through the official OpenAI and Anthropic SDKs the way
 * the orchestrator calls them.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PluginOffer } from '../shared/jobs.ts';
import { findModel } from '../shared/default-catalog.ts';
import { type ModelSpec } from '../shared/models.ts';
import { checkModelText, checkWorkflow, parseModelText } from '../shared/workflow-validation.ts';
import { strictWorkflowSchema, toolWorkflowSchema, WORKFLOW_FORMAT_NAME, WORKFLOW_TOOL_NAME } from '../shared/workflow-schema.ts';
import { FAULT_KINDS, parseDirectives, parseFaultConfig, pickFault } from './simulator/faults.ts';
import { parseGenerationPrompt } from './simulator/prompt.ts';
import { mulberry32, pick, type Rng } from './simulator/random.ts';
import { startSimulator, type Simulator } from './simulator/server.ts';
import { writeWorkflow } from './simulator/workflow-writer.ts';

const OPENAI_MODEL = findModel('gpt-4o-mini')!;
const ANTHROPIC_MODEL = findModel('claude-sonnet-4-6')!;

/** About the size of the orchestrator's instructions. */
const SYSTEM_PROMPT = [
  'You design automation workflows for an agent platform. Given a user goal and the plugins the user has connected, you answer with one workflow as JSON that follows the provided schema exactly.',
  'A workflow has a short name, a one or two sentence description and pilot_steps, the steps in execution order. Step kinds: plugin_action calls one action of one available plugin with named params; ai_processing asks a model to summarise, classify, extract or draft from earlier outputs; conditional runs then_steps or else_steps depending on a comparison; loop runs body_steps for each item of a list produced by an earlier step.',
  'Rules: use only the plugins listed under AVAILABLE_PLUGINS_JSON, and when a plugin lists actions, only those actions. Every step id is unique snake_case. A reference {step, path} may only point at an earlier step; inside a loop body, {step: <loop id>, path: "item"} is the current item. Params take either a literal value (ref null) or a reference (value null). Keep the workflow as small as the goal allows: most goals need three to eight steps. Prefer one loop over many copies of the same step.',
  'Write ai_processing prompts as complete instructions a model can follow without seeing this conversation: say what to extract or produce, in which format, and what to do when information is missing. Never invent plugins, actions or fields that were not offered. If the goal cannot be met with the available plugins, build the closest useful workflow and say what is missing in the description.',
  'Examples of good step names: "Search unread emails", "Classify each ticket by urgency", "Post the digest to Slack". Examples of bad step names: "Step 1", "Do the thing". Use output_format json when a later step reads fields of the output, text otherwise.',
].join('\n\n');

const PLUGINS: PluginOffer[] = [
  { key: 'google-mail', actions: ['search', 'get_message', 'send', 'add_label'], description: 'Read and send Gmail messages.' },
  { key: 'slack', actions: ['post_message', 'list_channels'], description: 'Post to Slack channels.' },
  { key: 'notion', description: 'Pages and databases.' },
  'google-calendar',
];
const GOAL = 'Every weekday morning, go through my unread Gmail emails, flag anything urgent from customers, and post a short digest to the #support Slack channel.';

function userMessage(goal: string, plugins: readonly PluginOffer[] = PLUGINS): string {
  return `Design a workflow for this request.\n\nGOAL: ${goal}\nAVAILABLE_PLUGINS_JSON: ${JSON.stringify(plugins)}\n\nAnswer with the workflow only.`;
}

function openAiClient(sim: Simulator, options: { apiKey?: string; timeout?: number } = {}): OpenAI {
  return new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: options.apiKey ?? 'sk-sim', maxRetries: 0, timeout: options.timeout ?? 10_000 });
}

function anthropicClient(sim: Simulator, options: { timeout?: number } = {}): Anthropic {
  return new Anthropic({ baseURL: sim.url, apiKey: 'sk-ant-sim', maxRetries: 0, timeout: options.timeout ?? 10_000 });
}

function askOpenAi(client: OpenAI, goal: string, opts: { model?: string; system?: string; maxTokens?: number; plugins?: readonly PluginOffer[]; temperature?: number } = {}) {
  return client.chat.completions.create({
    model: opts.model ?? OPENAI_MODEL.apiModel,
    messages: [
      { role: 'system', content: opts.system ?? SYSTEM_PROMPT },
      { role: 'user', content: userMessage(goal, opts.plugins) },
    ],
    response_format: { type: 'json_schema', json_schema: { name: WORKFLOW_FORMAT_NAME, strict: true, schema: strictWorkflowSchema } },
    max_completion_tokens: opts.maxTokens ?? 8192,
    ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
    temperature: 0.2,
  });
}

function askAnthropic(client: Anthropic, goal: string, opts: { model?: string; system?: string; maxTokens?: number; plugins?: readonly PluginOffer[]; temperature?: number } = {}) {
  return client.messages.create({
    model: opts.model ?? ANTHROPIC_MODEL.apiModel,
    max_tokens: opts.maxTokens ?? 8192,
    ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
    system: [{ type: 'text', text: opts.system ?? SYSTEM_PROMPT, cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: userMessage(goal, opts.plugins) }],
    tools: [{ name: WORKFLOW_TOOL_NAME, description: 'Submit the generated workflow.', input_schema: toolWorkflowSchema as Anthropic.Tool.InputSchema }],
    tool_choice: { type: 'tool', name: WORKFLOW_TOOL_NAME },
  });
}

function toolInput(message: Anthropic.Message): unknown {
  const block = message.content.find((b) => b.type === 'tool_use');
  return block?.type === 'tool_use' ? block.input : undefined;
}

function textOf(message: Anthropic.Message): string {
  return message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

async function caught(promise: Promise<unknown>): Promise<Error & { status?: number; headers?: Headers; error?: unknown }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { status?: number; headers?: Headers };
  }
  throw new Error('expected the call to fail');
}

function costUsd(model: ModelSpec, t: { input: number; output: number; cacheRead?: number; cacheWrite?: number }): number {
  const p = model.pricing;
  return (t.input * Number(p.inputPerMTok) + t.output * Number(p.outputPerMTok) + (t.cacheRead ?? 0) * Number(p.cachedInputPerMTok) + (t.cacheWrite ?? 0) * Number(p.cacheWritePerMTok)) / 1e6;
}

/** A unique system prompt, so prompt-cache state from other tests does not leak in. */
let systemCounter = 0;
function freshSystem(): string {
  return `${SYSTEM_PROMPT}\n\n(run ${++systemCounter} ${Date.now()})`;
}

async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('workflow writer', () => {
  const KEYS = ['google-mail', 'slack', 'github', 'jira', 'notion', 'google-calendar', 'google-drive', 'hubspot', 'stripe', 'airtable', 'http', 'twilio', 'zendesk', 'linear', 'x.y-z', 'A1', `k${'x'.repeat(63)}`];
  const ACTIONS = ['search', 'list', 'get', 'send', 'create', 'update', 'messages.list', 'send_message', 'post_message', 'add_label', 'a', '123', 'bulk_export', 'Query-All', 'A'.repeat(64)];
  const WORDS = `every morning weekly read summarize find urgent emails slack github issues tickets jira post send notify create update label calendar events meetings customers invoices stripe leads notion pages rows sheet daily report digest the and my to from with about 2024 — café 日本 [x] {json} "quoted" \\ back\\slash`.split(' ');

  function randomPlugins(rng: Rng): PluginOffer[] {
    const count = 1 + Math.floor(rng() * 6);
    return Array.from({ length: count }, (): PluginOffer => {
      const key = pick(rng, KEYS);
      const r = rng();
      if (r < 0.4) return key;
      if (r < 0.6) return { key };
      if (r < 0.7) return { key, actions: [] };
      return { key, actions: Array.from({ length: 1 + Math.floor(rng() * 4) }, () => pick(rng, ACTIONS)).filter((a, i, all) => all.indexOf(a) === i) };
    });
  }

  function randomGoal(rng: Rng): string {
    const r = rng();
    if (r < 0.03) return '!!!';
    if (r < 0.06) return pick(rng, ['x'.repeat(4000), 'word '.repeat(800), '😀'.repeat(2000)]);
    if (r < 0.1) return `${pick(rng, WORDS)} [sim:*=ok]\n\n${pick(rng, WORDS)}`;
    return Array.from({ length: 3 + Math.floor(rng() * 40) }, () => pick(rng, WORDS)).join(pick(rng, [' ', ' ', '\n', '. ']));
  }

  it('cuts a surrogate pair in its excerpt of a goal of 200 emoji, as a model may: the answer holds a lone surrogate', () => {
    const plugins = ['google-mail', 'slack'];
    const workflow = writeWorkflow({ seed: 1, goal: '😀'.repeat(200), plugins });
    const check = checkWorkflow(workflow, plugins);
    expect(check).toMatchObject({ ok: false, kind: 'unstorable', errors: [{ code: 'unstorable_text' }] });
    const pointer = check.ok ? '' : check.errors[0]!.path;
    const at = pointer.split('/').slice(1).reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], workflow);
    expect(at).toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it('always writes a workflow that passes checkWorkflow, with 3 to 8 steps', () => {
    const rng = mulberry32(2024);
    for (let i = 0; i < 1500; i++) {
      const plugins = randomPlugins(rng);
      const goal = randomGoal(rng);
      const workflow = writeWorkflow({ seed: i, goal, plugins });
      const first = checkWorkflow(workflow, plugins);
      // The writer quotes the goal cut at a UTF-16 unit, as a model may: a goal of astral
      // characters can leave a lone surrogate, which validation reports as 'unstorable'
      // (test/paid-calls-ledger.test.ts follows that through the pipeline). Everything else
      // about such a workflow must still pass.
      const cutMidPair = !first.ok && first.kind === 'unstorable' && /[\u{10000}-\u{10FFFF}]/u.test(goal);
      const check = cutMidPair ? checkWorkflow(JSON.parse(JSON.stringify(workflow).replace(/\\ud[89a-f][0-9a-f]{2}/g, '?')), plugins) : first;
      if (!check.ok) throw new Error(`goal ${JSON.stringify(goal)} plugins ${JSON.stringify(plugins)}: ${JSON.stringify(check.errors)}`);
      expect(check.stepCount).toBeGreaterThanOrEqual(3);
      expect(check.stepCount).toBeLessThanOrEqual(8);
    }
  });

  it('is deterministic for (seed, goal, plugins) and varies with the seed', () => {
    const a = writeWorkflow({ seed: 1, goal: GOAL, plugins: PLUGINS });
    expect(writeWorkflow({ seed: 1, goal: GOAL, plugins: PLUGINS })).toEqual(a);
    const variants = new Set(Array.from({ length: 20 }, (_, seed) => JSON.stringify(writeWorkflow({ seed, goal: GOAL, plugins: PLUGINS }))));
    expect(variants.size).toBeGreaterThan(1);
  });

  it('uses the plugins the goal names and only the actions a plugin lists', () => {
    const workflow = writeWorkflow({ seed: 3, goal: GOAL, plugins: PLUGINS });
    const first = workflow.pilot_steps[0]!;
    expect(first).toMatchObject({ type: 'plugin_action', plugin: 'google-mail', action: 'search' });
    const loop = workflow.pilot_steps.find((s) => s.type === 'loop');
    if (loop?.type === 'loop') expect(loop.body_steps[0]).toMatchObject({ type: 'ai_processing', inputs: [{ step: loop.id, path: 'item' }] });
  });
});

describe('prompt parsing and fault selection', () => {
  it('reads GOAL and AVAILABLE_PLUGINS_JSON, on the same or the next line', () => {
    expect(parseGenerationPrompt(userMessage('Do a thing\nacross lines', ['slack']))).toEqual({ goal: 'Do a thing\nacross lines', plugins: ['slack'] });
    expect(parseGenerationPrompt('GOAL:\n"quoted goal"\nAVAILABLE_PLUGINS_JSON:\n[{"key":"github","actions":["list"]}]')).toEqual({
      goal: 'quoted goal',
      plugins: [{ key: 'github', actions: ['list'] }],
    });
  });

  it('takes the goal up to the last AVAILABLE_PLUGINS_JSON line, header-like lines included', () => {
    const text = 'GOAL:\nCheck my inbox.\nNOTE: only customers\nAVAILABLE_PLUGINS_JSON: is in the goal too\nAVAILABLE_PLUGINS_JSON:\n["slack",{"key":"gmail"}]\n';
    expect(parseGenerationPrompt(text)).toEqual({ goal: 'Check my inbox.\nNOTE: only customers\nAVAILABLE_PLUGINS_JSON: is in the goal too', plugins: ['slack', { key: 'gmail' }] });
  });

  it('falls back to the whole message as goal and the "http" plugin', () => {
    expect(parseGenerationPrompt('  Just summarise my week  ')).toEqual({ goal: 'Just summarise my week', plugins: ['http'] });
    expect(parseGenerationPrompt('GOAL: x\nAVAILABLE_PLUGINS_JSON: not json').plugins).toEqual(['http']);
  });

  it('parses directives and refuses unknown models or faults', () => {
    expect(parseDirectives('a [sim:gpt-4o-mini=schema] b [sim:*=rate_limit] [sim:claude-sonnet-4-20250514=ok]')).toEqual([
      { model: 'gpt-4o-mini', outcome: 'schema' },
      { model: '*', outcome: 'rate_limit' },
      { model: 'claude-sonnet-4-20250514', outcome: 'ok' },
    ]);
    // Any model name: the simulator serves models it has no row for (openai-compatible ones).
    expect(parseDirectives('[sim:gpt-9=schema]')).toEqual([{ model: 'gpt-9', outcome: 'schema' }]);
    expect(() => parseDirectives('[sim:-bad=schema]')).toThrow(/unknown model "-bad"/);
    expect(() => parseDirectives('[sim:*=explode]')).toThrow(/unknown fault "explode"/);
  });

  it('picks at most one fault by cumulative probability', () => {
    const faults = { schema: 0.1, rate_limit: 0.2 };
    expect(pickFault(faults, 0.05)).toBe('schema');
    expect(pickFault(faults, 0.25)).toBe('rate_limit');
    expect(pickFault(faults, 0.31)).toBeNull();
  });

  it('validates fault configs, naming the bad entry', () => {
    expect(() => parseFaultConfig({ 'no such model': { schema: 0.1 } })).toThrow(/unknown model "no such model"/);
    expect(() => parseFaultConfig({ '*': { schema: 1.5 } })).toThrow(/"\*"\.schema must be a probability/);
    expect(() => parseFaultConfig({ '*': { schema: 0.6, empty: 0.6 } })).toThrow(/add up to/);
    expect(() => parseFaultConfig({ '*': { typo: 0.1 } })).toThrow(/unknown key "typo"/);
    expect(parseFaultConfig({ 'gpt-4o-mini': { schema: 0.03, rate_limit: 0.01, retryAfterSeconds: 2 }, '*': { server_error: 0.01 } })).toBeTruthy();
  });
});

describe('simulated provider', () => {
  let sim: Simulator;
  let openai: OpenAI;
  let anthropic: Anthropic;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 42 });
    openai = openAiClient(sim);
    anthropic = anthropicClient(sim);
  });
  afterEach(() => {
    sim.setFaults({});
    sim.setLatency(0);
  });
  afterAll(() => sim.close());

  describe('happy path', () => {
    it('OpenAI: a strict JSON answer that passes checkWorkflow', async () => {
      const { data, response } = await askOpenAi(openai, GOAL).withResponse();
      expect(response.headers.get('x-request-id')).toMatch(/^req_/);
      expect(data).toMatchObject({ object: 'chat.completion', model: OPENAI_MODEL.apiModel, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', refusal: null } }] });
      expect(data.id).toMatch(/^chatcmpl-/);
      const check = checkModelText(data.choices[0]!.message.content, PLUGINS);
      expect(check.ok).toBe(true);
    });

    it('Anthropic: a forced tool_use answer that passes checkWorkflow', async () => {
      const { data, response } = await askAnthropic(anthropic, GOAL).withResponse();
      expect(response.headers.get('request-id')).toMatch(/^req_/);
      expect(data).toMatchObject({ type: 'message', role: 'assistant', model: ANTHROPIC_MODEL.apiModel, stop_reason: 'tool_use', stop_sequence: null });
      expect(data.id).toMatch(/^msg_/);
      expect(data.content).toHaveLength(1);
      expect(data.content[0]).toMatchObject({ type: 'tool_use', name: WORKFLOW_TOOL_NAME });
      expect(checkWorkflow(toolInput(data), PLUGINS).ok).toBe(true);
    });

    it('accepts the catalog id as model name too', async () => {
      const reply = await askOpenAi(openai, GOAL, { model: 'gpt-4o-mini' });
      expect(reply.model).toBe(OPENAI_MODEL.apiModel);
    });

    it('answers the same goal with the same workflow', async () => {
      const [a, b] = await Promise.all([askOpenAi(openai, GOAL), askOpenAi(openai, GOAL)]);
      expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content);
    });
  });

  describe('request validation', () => {
    it('serves any model name, but a retired one gets the vendor 404, in each vendor shape', async () => {
      expect((await askOpenAi(openai, GOAL, { model: 'acme-small-2026-11' })).model).toBe('acme-small-2026-11');
      const oa = await caught(askOpenAi(openai, `${GOAL} [sim:*=model_unavailable]`));
      expect(oa).toBeInstanceOf(OpenAI.NotFoundError);
      expect(oa.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found', param: null });
      const an = await caught(askAnthropic(anthropic, GOAL, { model: 'claude-sonnet-4-20250514' }));
      expect(an).toBeInstanceOf(Anthropic.NotFoundError);
      expect(an.error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: 'model: claude-sonnet-4-20250514' } });
    });

    it('reasoning models refuse temperature with the vendor 400', async () => {
      const oa = await caught(askOpenAi(openai, GOAL, { model: 'gpt-6-luna', temperature: 0.2 }));
      expect(oa).toBeInstanceOf(OpenAI.BadRequestError);
      expect(oa.message).toMatch(/temperature/);
      const an = await caught(askAnthropic(anthropic, GOAL, { model: 'claude-opus-4-8', temperature: 0.2 }));
      expect(an).toBeInstanceOf(Anthropic.BadRequestError);
    });

    it('quota: OpenAI 429 insufficient_quota, Anthropic 400 credit balance', async () => {
      const oa = await caught(askOpenAi(openai, `${GOAL} [sim:*=quota]`));
      expect(oa.status).toBe(429);
      expect((oa as unknown as { error: unknown }).error).toMatchObject({ code: 'insufficient_quota', type: 'insufficient_quota' });
      const an = await caught(askAnthropic(anthropic, `${GOAL} [sim:*=quota]`));
      expect(an.status).toBe(400);
      expect(an.message).toMatch(/credit balance is too low/);
    });

    it('401 without an API key header', async () => {
      const oa = await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: OPENAI_MODEL.apiModel, messages: [{ role: 'user', content: 'hi' }] }) });
      expect(oa.status).toBe(401);
      expect(await oa.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_api_key' } });
      const an = await fetch(`${sim.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: ANTHROPIC_MODEL.apiModel, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }) });
      expect(an.status).toBe(401);
      expect(an.headers.get('request-id')).toMatch(/^req_/);
      expect(await an.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    });

    it('400 for a malformed body or an unknown directive', async () => {
      const bad = await fetch(`${sim.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'k' }, body: '{not json' });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      const err = await caught(askOpenAi(openai, `${GOAL} [sim:*=meltdown]`));
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.message).toMatch(/unknown fault "meltdown"/);
    });

    it('a workflow longer than max tokens comes back cut', async () => {
      const oa = await askOpenAi(openai, GOAL, { maxTokens: 200 });
      expect(oa.choices[0]!.finish_reason).toBe('length');
      expect(oa.usage!.completion_tokens).toBeLessThanOrEqual(200);
      expect(parseModelText(oa.choices[0]!.message.content)).toMatchObject({ ok: false, kind: 'truncated' });
      const an = await askAnthropic(anthropic, GOAL, { maxTokens: 200 });
      expect(an.stop_reason).toBe('max_tokens');
      expect(an.usage.output_tokens).toBeLessThanOrEqual(200);
    });
  });

  describe('output faults (forced by directive)', () => {
    it('unparseable: prose without a JSON object', async () => {
      const oa = await askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=unparseable]`);
      expect(parseModelText(oa.choices[0]!.message.content)).toMatchObject({ ok: false, kind: 'unparseable' });
      const an = await askAnthropic(anthropic, `${GOAL} [sim:claude-sonnet-4-6=unparseable]`);
      expect(an.stop_reason).toBe('end_turn');
      expect(toolInput(an)).toBeUndefined();
      expect(parseModelText(textOf(an))).toMatchObject({ ok: false, kind: 'unparseable' });
    });

    it('prose_wrapped: valid JSON in a code fence, recoverable', async () => {
      const oa = await askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=prose_wrapped]`);
      const text = oa.choices[0]!.message.content!;
      expect(text).toMatch(/^Here is a workflow[\s\S]*```json/);
      expect(checkModelText(text, PLUGINS).ok).toBe(true);
      const an = await askAnthropic(anthropic, `${GOAL} [sim:*=prose_wrapped]`);
      expect(toolInput(an)).toBeUndefined();
      expect(checkModelText(textOf(an), PLUGINS).ok).toBe(true);
    });

    it('truncated: JSON cut near the middle, finish_reason length / stop_reason max_tokens', async () => {
      const full = (await askOpenAi(openai, GOAL)).choices[0]!.message.content!;
      const oa = await askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=truncated]`);
      expect(oa.choices[0]!.finish_reason).toBe('length');
      const cut = oa.choices[0]!.message.content!;
      expect(cut.length).toBeGreaterThan(full.length * 0.3);
      expect(cut.length).toBeLessThan(full.length * 0.7);
      expect(parseModelText(cut)).toMatchObject({ ok: false, kind: 'truncated' });
      const an = await askAnthropic(anthropic, `${GOAL} [sim:claude-sonnet-4-6=truncated]`);
      expect(an.stop_reason).toBe('max_tokens');
      expect(an.content).toEqual([{ type: 'text', text: expect.any(String) }]);
      expect(parseModelText(textOf(an))).toMatchObject({ ok: false, kind: 'truncated' });
    });

    it('refusal: OpenAI message.refusal, Anthropic stop_reason refusal', async () => {
      const oa = await askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=refusal]`);
      expect(oa.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: null, refusal: expect.stringMatching(/\S/) } });
      const an = await askAnthropic(anthropic, `${GOAL} [sim:claude-sonnet-4-6=refusal]`);
      expect(an.stop_reason).toBe('refusal');
      expect(an.content).toEqual([{ type: 'text', text: expect.stringMatching(/\S/) }]);
    });

    it('empty: OpenAI content "", Anthropic no content blocks', async () => {
      const oa = await askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=empty]`);
      expect(oa.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: '' } });
      const an = await askAnthropic(anthropic, `${GOAL} [sim:claude-sonnet-4-6=empty]`);
      expect(an).toMatchObject({ content: [], stop_reason: 'end_turn' });
    });

    it('schema: valid JSON that breaks the schema', async () => {
      for (let i = 0; i < 8; i++) {
        const goal = `${GOAL} (variant ${i}) [sim:*=schema]`;
        const oa = await askOpenAi(openai, goal);
        expect(checkModelText(oa.choices[0]!.message.content, PLUGINS)).toMatchObject({ ok: false, kind: 'schema' });
        const an = await askAnthropic(anthropic, goal);
        expect(an.stop_reason).toBe('tool_use');
        expect(checkWorkflow(toolInput(an), PLUGINS)).toMatchObject({ ok: false, kind: 'schema' });
      }
    });

    it('semantic: schema-valid, but an unoffered plugin or action, or a forward reference', async () => {
      const codes = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const goal = `${GOAL} (variant ${i}) [sim:*=semantic]`;
        const oa = await askOpenAi(openai, goal);
        const check = checkModelText(oa.choices[0]!.message.content, PLUGINS);
        expect(check).toMatchObject({ ok: false, kind: 'semantic' });
        if (!check.ok) check.errors.forEach((e) => codes.add(e.code));
        const an = await askAnthropic(anthropic, goal);
        expect(checkWorkflow(toolInput(an), PLUGINS)).toMatchObject({ ok: false, kind: 'semantic' });
      }
      expect(codes.size).toBeGreaterThan(1);
    });
  });

  describe('call faults (forced by directive)', () => {
    it('rate_limit: 429 with retry-after and retry-after-ms seen on the SDK error', async () => {
      sim.setFaults({ '*': { retryAfterSeconds: 3 } });
      const oa = await caught(askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=rate_limit]`));
      expect(oa).toBeInstanceOf(OpenAI.RateLimitError);
      expect(oa.status).toBe(429);
      expect(oa.headers?.get('retry-after')).toBe('3');
      expect(oa.headers?.get('retry-after-ms')).toBe('3000');
      expect(oa.headers?.get('x-request-id')).toMatch(/^req_/);
      expect(oa.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded', param: null });

      sim.setFaults({});
      const an = await caught(askAnthropic(anthropic, `${GOAL} [sim:claude-sonnet-4-6=rate_limit]`));
      expect(an).toBeInstanceOf(Anthropic.RateLimitError);
      expect(an.status).toBe(429);
      expect(an.headers?.get('retry-after')).toBe('1');
      expect(an.headers?.get('retry-after-ms')).toBe('1000');
      expect(an.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    });

    it('server_error: 500', async () => {
      const oa = await caught(askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=server_error]`));
      expect(oa).toBeInstanceOf(OpenAI.InternalServerError);
      expect(oa.status).toBe(500);
      const an = await caught(askAnthropic(anthropic, `${GOAL} [sim:claude-sonnet-4-6=server_error]`));
      expect(an.status).toBe(500);
      expect(an.error).toMatchObject({ error: { type: 'api_error' } });
    });

    it('overloaded: OpenAI 503, Anthropic 529 overloaded_error', async () => {
      const oa = await caught(askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=overloaded]`));
      expect(oa.status).toBe(503);
      const an = await caught(askAnthropic(anthropic, `${GOAL} [sim:claude-sonnet-4-6=overloaded]`));
      expect(an).toBeInstanceOf(Anthropic.InternalServerError);
      expect(an.status).toBe(529);
      expect(an.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    });

    it('auth: 401', async () => {
      const oa = await caught(askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=auth]`));
      expect(oa).toBeInstanceOf(OpenAI.AuthenticationError);
      const an = await caught(askAnthropic(anthropic, `${GOAL} [sim:claude-sonnet-4-6=auth]`));
      expect(an).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(an.error).toMatchObject({ error: { type: 'authentication_error' } });
    });

    it('slow: waits slowMs, then answers', async () => {
      sim.setFaults({ '*': { slowMs: 300 } });
      const start = performance.now();
      const oa = await askOpenAi(openai, `${GOAL} [sim:*=slow]`);
      expect(performance.now() - start).toBeGreaterThanOrEqual(290);
      expect(checkModelText(oa.choices[0]!.message.content, PLUGINS).ok).toBe(true);
    });

    it('hang: no answer until the client gives up', async () => {
      const oa = await caught(askOpenAi(openAiClient(sim, { timeout: 300 }), `${GOAL} [sim:gpt-4o-mini=hang]`));
      expect(oa).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
      const an = await caught(askAnthropic(anthropicClient(sim, { timeout: 300 }), `${GOAL} [sim:claude-sonnet-4-6=hang]`));
      expect(an).toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    });

    it('huge: a 10 MB JSON answer, billed for every token', async () => {
      const oa = await askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=huge]`);
      expect(oa.choices[0]!.message.content!.length).toBeGreaterThan(10 * 1024 * 1024);
      expect(oa.usage!.completion_tokens).toBeGreaterThan(2_000_000);
      expect(checkModelText(oa.choices[0]!.message.content, PLUGINS)).toMatchObject({ ok: false, kind: 'schema' });
    });

    it('endless: headers at once, then a body that never ends until the client aborts', async () => {
      // The SDK's own timeout stops at the headers; only an abort signal ends the body read.
      const signal = AbortSignal.timeout(500);
      const started = performance.now();
      const oa = await caught(
        openai.chat.completions.create(
          { model: OPENAI_MODEL.apiModel, messages: [{ role: 'user', content: userMessage(`${GOAL} [sim:gpt-4o-mini=endless]`) }] },
          { signal },
        ),
      );
      expect(oa).toBeInstanceOf(Error);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(sim.stats().byModel['gpt-4o-mini']?.endless).toBeGreaterThanOrEqual(1);
    });

    it('scripted answers: served in order for that model, ahead of any fault', async () => {
      sim.setScript('gpt-4o-mini', [{ kind: 'text', text: 'first', cut: false }, { kind: 'empty' }]);
      expect((await askOpenAi(openai, `${GOAL} [sim:gpt-4o-mini=schema]`)).choices[0]!.message.content).toBe('first');
      expect((await askOpenAi(openai, GOAL)).choices[0]!.message.content).toBe('');
      expect(checkModelText((await askOpenAi(openai, GOAL)).choices[0]!.message.content, PLUGINS).ok).toBe(true);
      expect(sim.stats().byModel['gpt-4o-mini']?.scripted).toBe(2);
    });

    it('several directives: each model gets its own, a specific one beats "*"', async () => {
      const goal = `${GOAL} [sim:gpt-4o-mini=schema] [sim:claude-sonnet-4-6=rate_limit] [sim:*=empty]`;
      expect(checkModelText((await askOpenAi(openai, goal)).choices[0]!.message.content, PLUGINS)).toMatchObject({ kind: 'schema' });
      expect((await caught(askAnthropic(anthropic, goal))).status).toBe(429);
      const haiku = await askAnthropic(anthropic, goal, { model: 'claude-haiku-4-5-20251001' });
      expect(haiku.content).toEqual([]);
    });

    it('a directive beats the random faults', async () => {
      sim.setFaults({ '*': { server_error: 1 } });
      const oa = await askOpenAi(openai, `${GOAL} [sim:*=ok]`);
      expect(checkModelText(oa.choices[0]!.message.content, PLUGINS).ok).toBe(true);
      expect((await caught(askOpenAi(openai, GOAL))).status).toBe(500);
    });
  });

  describe('random faults', () => {
    it('follow the configured probabilities per model, looked up by id, apiModel, then "*"', async () => {
      sim.setFaults({ 'gpt-4o-mini': { empty: 1 }, 'claude-sonnet-4-6': { refusal: 1 }, '*': { server_error: 1 } });
      expect((await askOpenAi(openai, GOAL)).choices[0]!.message.content).toBe('');
      expect((await askAnthropic(anthropic, GOAL)).stop_reason).toBe('refusal');
      expect((await caught(askOpenAi(openai, GOAL, { model: 'gpt-4o-2024-08-06' }))).status).toBe(500);
    });

    it('replay the same sequence for the same seed', async () => {
      const run = async (): Promise<string[]> => {
        const s = await startSimulator({ seed: 7, faults: { '*': { empty: 0.3, server_error: 0.3 } } });
        try {
          const client = openAiClient(s);
          const outcomes: string[] = [];
          for (let i = 0; i < 30; i++) {
            try {
              const r = await askOpenAi(client, GOAL);
              outcomes.push(r.choices[0]!.message.content === '' ? 'empty' : 'ok');
            } catch (err) {
              outcomes.push(String((err as { status?: number }).status));
            }
          }
          expect(Object.values(s.stats().byModel['gpt-4o-mini']!).reduce((a, b) => a + b, 0)).toBe(30);
          return outcomes;
        } finally {
          await s.close();
        }
      };
      const first = await run();
      expect(new Set(first)).toEqual(new Set(['ok', 'empty', '500']));
      expect(await run()).toEqual(first);
    });
  });

  describe('usage', () => {
    it('OpenAI: prompt tokens ≈ request chars / 4, cached tokens in blocks of 128 from the second call', async () => {
      const system = freshSystem();
      const first = await askOpenAi(openai, GOAL, { system });
      const body = JSON.stringify({
        model: OPENAI_MODEL.apiModel,
        messages: [{ role: 'system', content: system }, { role: 'user', content: userMessage(GOAL) }],
        response_format: { type: 'json_schema', json_schema: { name: WORKFLOW_FORMAT_NAME, strict: true, schema: strictWorkflowSchema } },
        max_completion_tokens: 8192,
        temperature: 0.2,
      });
      const u1 = first.usage!;
      expect(u1.prompt_tokens).toBe(Math.ceil(body.length / 4));
      expect(u1.completion_tokens).toBe(Math.ceil(first.choices[0]!.message.content!.length / 4));
      expect(u1.total_tokens).toBe(u1.prompt_tokens + u1.completion_tokens);
      expect(u1.prompt_tokens_details?.cached_tokens).toBe(0);
      expect(u1.completion_tokens_details?.reasoning_tokens).toBe(0);

      const u2 = (await askOpenAi(openai, GOAL, { system })).usage!;
      const systemTokens = Math.ceil(system.length / 4);
      expect(u2.prompt_tokens_details?.cached_tokens).toBe(Math.floor(systemTokens / 128) * 128);
      expect(u2.prompt_tokens).toBe(u1.prompt_tokens);
    });

    it('Anthropic: cache creation the first time, cache read afterwards, neither in input_tokens', async () => {
      const system = freshSystem();
      const systemTokens = Math.ceil(system.length / 4);
      const u1 = (await askAnthropic(anthropic, GOAL, { system })).usage;
      expect(u1.cache_creation_input_tokens).toBe(systemTokens);
      expect(u1.cache_read_input_tokens).toBe(0);
      const u2 = (await askAnthropic(anthropic, GOAL, { system })).usage;
      expect(u2.cache_creation_input_tokens).toBe(0);
      expect(u2.cache_read_input_tokens).toBe(systemTokens);
      expect(u2.input_tokens).toBe(u1.input_tokens);
      // The cache is per model, as the vendor's is.
      const haiku = (await askAnthropic(anthropic, GOAL, { system, model: 'claude-haiku-4-5-20251001' })).usage;
      expect(haiku.cache_creation_input_tokens).toBe(systemTokens);
    });

    it('a typical generation costs about $0.001 on gpt-4o-mini and $0.03 on claude-sonnet-4-6', async () => {
      const system = freshSystem();
      const oa = (await askOpenAi(openai, GOAL, { system })).usage!;
      const oaCost = costUsd(OPENAI_MODEL, { input: oa.prompt_tokens, output: oa.completion_tokens });
      const an = (await askAnthropic(anthropic, GOAL, { system })).usage;
      const anCost = costUsd(ANTHROPIC_MODEL, { input: an.input_tokens, output: an.output_tokens, cacheWrite: an.cache_creation_input_tokens ?? 0 });
      const anWarm = (await askAnthropic(anthropic, GOAL, { system })).usage;
      const anWarmCost = costUsd(ANTHROPIC_MODEL, { input: anWarm.input_tokens, output: anWarm.output_tokens, cacheRead: anWarm.cache_read_input_tokens ?? 0 });
      console.log(
        [
          `gpt-4o-mini:     prompt ${oa.prompt_tokens}, completion ${oa.completion_tokens} -> $${oaCost.toFixed(5)}`,
          `claude-sonnet-4-6: input ${an.input_tokens} + cache write ${an.cache_creation_input_tokens}, output ${an.output_tokens} -> $${anCost.toFixed(4)}`,
          `claude-sonnet-4-6 (warm cache): input ${anWarm.input_tokens} + cache read ${anWarm.cache_read_input_tokens}, output ${anWarm.output_tokens} -> $${anWarmCost.toFixed(4)}`,
        ].join('\n'),
      );
      expect(oa.prompt_tokens).toBeGreaterThanOrEqual(1500);
      expect(oa.prompt_tokens).toBeLessThanOrEqual(3000);
      expect(oa.completion_tokens).toBeGreaterThanOrEqual(800);
      expect(oa.completion_tokens).toBeLessThanOrEqual(1500);
      expect(oaCost).toBeGreaterThan(0.0005);
      expect(oaCost).toBeLessThan(0.002);
      expect(anCost).toBeGreaterThan(0.02);
      expect(anCost).toBeLessThan(0.04);
    });

    it('are totalled per model in the stats', async () => {
      const s = await startSimulator();
      try {
        const r = await askOpenAi(openAiClient(s), GOAL);
        expect(s.stats().usage['gpt-4o-mini']).toEqual({ inputTokens: r.usage!.prompt_tokens, outputTokens: r.usage!.completion_tokens, cacheReadTokens: 0, cacheWriteTokens: 0 });
      } finally {
        await s.close();
      }
    });
  });

  describe('latency', () => {
    it('applies the base latency per model with ±10% jitter', async () => {
      sim.setLatency({ 'gpt-4o-mini': 200 });
      let start = performance.now();
      await askOpenAi(openai, GOAL);
      const elapsed = performance.now() - start;
      expect(elapsed).toBeGreaterThanOrEqual(175);
      expect(elapsed).toBeLessThan(600);
      start = performance.now();
      await askAnthropic(anthropic, GOAL);
      expect(performance.now() - start).toBeLessThan(150);
    });
  });

  describe('admin endpoints', () => {
    it('healthz, stats, faults, latency and reset', async () => {
      const s = await startSimulator();
      try {
        expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
        const put = (path: string, body: string) => fetch(`${s.url}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });

        const faults = { 'gpt-4o-mini': { schema: 1 } };
        const ok = await put('/_sim/faults', JSON.stringify(faults));
        expect(ok.status).toBe(200);
        expect(await ok.json()).toEqual(faults);
        const bad = await put('/_sim/faults', JSON.stringify({ 'gpt-4o-mini': { schema: 2 } }));
        expect(bad.status).toBe(400);
        expect(((await bad.json()) as { error: string }).error).toMatch(/"gpt-4o-mini"\.schema/);
        expect((await put('/_sim/faults', '{oops')).status).toBe(400);
        expect(await (await fetch(`${s.url}/_sim/faults`)).json()).toEqual(faults);

        const client = openAiClient(s);
        await askOpenAi(client, GOAL);
        await askOpenAi(client, `${GOAL} [sim:*=ok]`);
        await caught(askOpenAi(client, GOAL, { model: '' }));
        const stats = await (await fetch(`${s.url}/_sim/stats`)).json();
        expect(stats).toMatchObject({ totalRequests: 3, byModel: { 'gpt-4o-mini': { schema: 1, ok: 1 } }, rejected: { unknown_model: 1 } });
        expect(s.stats()).toEqual(stats);

        expect((await put('/_sim/latency', '{"claude-sonnet-4-6": 50, "*": 5}')).status).toBe(200);
        expect(await (await fetch(`${s.url}/_sim/latency`)).json()).toEqual({ latencyMs: { 'claude-sonnet-4-6': 50, '*': 5 } });
        expect((await put('/_sim/latency', '-1')).status).toBe(400);

        const reset = await fetch(`${s.url}/_sim/reset`, { method: 'POST' });
        expect(reset.status).toBe(200);
        expect(s.stats()).toMatchObject({ totalRequests: 0, byModel: {}, usage: {} });
        expect((await fetch(`${s.url}/_sim/nothing`)).status).toBe(404);
        expect((await fetch(`${s.url}/_sim/stats`, { method: 'DELETE' })).status).toBe(405);

        s.setFaults({});
        s.resetStats();
        expect(s.stats().totalRequests).toBe(0);
      } finally {
        await s.close();
      }
    });
  });

  describe('rate-limit mode', () => {
    it('admits rateLimitPerSecond calls, then answers 429 with the time until capacity', async () => {
      const s = await startSimulator({ faults: { 'claude-sonnet-4-6': { rateLimitPerSecond: 2 } } });
      try {
        const client = anthropicClient(s);
        const results = await Promise.allSettled([1, 2, 3, 4].map(() => askAnthropic(client, GOAL)));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
        const limited = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as InstanceType<typeof Anthropic.RateLimitError>] : []));
        expect(limited).toHaveLength(2);
        const waitMs = Number(limited[0]!.headers.get('retry-after-ms'));
        expect(waitMs).toBeGreaterThan(0);
        expect(waitMs).toBeLessThanOrEqual(500);
        expect(limited[0]!.headers.get('retry-after')).toBe('1');
        // Other models are not limited.
        await askOpenAi(openAiClient(s), GOAL);
        await new Promise((r) => setTimeout(r, waitMs + 20));
        expect((await askAnthropic(client, GOAL)).stop_reason).toBe('tool_use');
        expect(s.stats().byModel['claude-sonnet-4-6']).toEqual({ ok: 3, rate_limit: 2 });
      } finally {
        await s.close();
      }
    });
  });

  describe('close()', () => {
    it('returns promptly while a request hangs, and the client sees the connection drop', async () => {
      const s = await startSimulator();
      const pending = caught(askOpenAi(openAiClient(s, { timeout: 60_000 }), `${GOAL} [sim:*=hang]`));
      await until(() => s.stats().byModel['gpt-4o-mini']?.hang === 1);
      const start = performance.now();
      await s.close();
      expect(performance.now() - start).toBeLessThan(1000);
      expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
      await s.close();
    });
  });
});

describe('CLI (npm run sim)', { timeout: 30_000 }, () => {
  const main = fileURLToPath(new URL('./simulator/main.ts', import.meta.url));

  function run(env: Record<string, string>, onLine?: (line: string, kill: () => void) => void): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [main], { env: { ...process.env, SIM_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        onLine?.(output, () => child.kill('SIGTERM'));
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, output }));
    });
  }

  it.each([
    ['SIM_PORT', 'abc'],
    ['SIM_SEED', '1.5'],
    ['SIM_FAULTS', '{"gpt-4o-mini":{"schema":3}}'],
    ['SIM_FAULTS', 'not json'],
    ['SIM_LATENCY_MS', '{"no body":5}'],
  ])('exits with a message naming %s when it is %s', async (name, value) => {
    const { code, output } = await run({ [name]: value });
    expect(code).toBe(2);
    expect(output).toContain(`${name}:`);
  });

  it('serves until SIGTERM, then closes and exits 0', async () => {
    let served = false;
    const { code, output } = await run({ SIM_SEED: '5', SIM_FAULTS: '{"*":{"empty":1}}', SIM_LATENCY_MS: '1' }, (out, kill) => {
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (!url || served) return;
      served = true;
      void fetch(`${url}/healthz`).then(kill, kill);
    });
    expect(output).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(seed 5\)/);
    expect(output).toContain('SIGTERM');
    expect(code).toBe(0);
  });
});

// Every fault kind is exercised above; this keeps that list honest when a kind is added.
it('covers every fault kind', () => {
  expect([...FAULT_KINDS].sort()).toEqual(['auth', 'bad_request', 'empty', 'endless', 'hang', 'huge', 'model_unavailable', 'overloaded', 'prose_wrapped', 'quota', 'rate_limit', 'refusal', 'schema', 'semantic', 'server_error', 'slow', 'truncated', 'unparseable']);
});
