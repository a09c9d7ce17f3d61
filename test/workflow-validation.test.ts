/** The workflow schema, the graph rules and the classification of raw model answers. */
import { describe, expect, it } from 'vitest';
import { checkModelText, checkWorkflow, parseModelText } from '../shared/workflow-validation.js';
import { strictWorkflowSchema } from '../shared/workflow-schema.js';

const plugins = ['google-mail', { key: 'slack', actions: ['post_message'] }];

const step = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: 'plugin_action', name: `Step ${id}`, plugin: 'google-mail', action: 'search', params: [], ...extra });
const ref = (s: string, path = '') => ({ step: s, path });
const wf = (steps: unknown[]) => ({ name: 'Test', description: 'A test workflow', pilot_steps: steps });

const good = wf([
  step('fetch'),
  { id: 'each', type: 'loop', name: 'Each mail', over: ref('fetch', 'messages'), max_iterations: 20, body_steps: [{ id: 'summarise', type: 'ai_processing', name: 'Summarise', prompt: 'Summarise', inputs: [ref('each', 'item')], output_format: 'text' }] },
  {
    id: 'any',
    type: 'conditional',
    name: 'Anything?',
    condition: { left: { ref: ref('fetch', 'count'), value: null }, operator: 'greater_than', right: { ref: null, value: 0 } },
    then_steps: [{ id: 'post', type: 'plugin_action', name: 'Post', plugin: 'slack', action: 'post_message', params: [{ name: 'text', value: null, ref: ref('summarise') }] }],
    else_steps: [],
  },
]);

describe('checkWorkflow', () => {
  it('accepts a workflow with plugin actions, a loop, AI processing and a conditional', () => {
    const r = checkWorkflow(good, plugins);
    expect(r).toMatchObject({ ok: true, stepCount: 5 });
  });

  const semantic: Array<[string, unknown, string, string]> = [
    ['a plugin the request did not offer (prompt injection)', wf([step('a', { plugin: 'stripe', action: 'refund' })]), 'unknown_plugin', '/pilot_steps/0/plugin'],
    ['an action the plugin does not list', wf([step('a', { plugin: 'slack', action: 'delete_channel' })]), 'unknown_action', '/pilot_steps/0/action'],
    ['duplicate step ids', wf([step('a'), step('a')]), 'duplicate_step_id', '/pilot_steps/1/id'],
    ['a reference to nothing', wf([step('a', { params: [{ name: 'x', value: null, ref: ref('ghost') }] })]), 'unknown_reference', '/pilot_steps/0/params/0/ref'],
    ['a forward reference', wf([step('a', { params: [{ name: 'x', value: null, ref: ref('b') }] }), step('b')]), 'forward_reference', '/pilot_steps/0/params/0/ref'],
    ['a self reference', wf([step('a', { params: [{ name: 'x', value: null, ref: ref('a') }] })]), 'self_reference', '/pilot_steps/0/params/0/ref'],
    ['more than 50 steps, nested ones counted', wf([{ id: 'l', type: 'loop', name: 'l', over: ref('l0'), max_iterations: 1, body_steps: Array.from({ length: 50 }, (_, i) => step(`s${i}`)) }].concat([step('l0')] as never[])), 'too_many_steps', '/pilot_steps'],
  ];
  for (const [what, doc, code, path] of semantic) {
    it(`reports ${what} as semantic (${code} at ${path})`, () => {
      const r = checkWorkflow(doc, plugins);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.kind).toBe('semantic');
      expect(r.errors).toContainEqual(expect.objectContaining({ code, path }));
    });
  }

  it('reports a cycle with the steps in it', () => {
    const doc = wf([step('a', { params: [{ name: 'x', value: null, ref: ref('b') }] }), step('b', { params: [{ name: 'x', value: null, ref: ref('a') }] })]);
    const r = checkWorkflow(doc, plugins);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toContainEqual(expect.objectContaining({ code: 'cycle', message: expect.stringMatching(/a -> b -> a/) }));
  });

  const schema: Array<[string, unknown, string]> = [
    ['a missing name', { description: 'x', pilot_steps: [step('a')] }, '/name'],
    ['a number where a string belongs', wf([step('a', { action: 42 })]), '/pilot_steps/0'],
    ['an unknown step type', wf([{ id: 'a', type: 'teleport', name: 'x' }]), '/pilot_steps/0'],
    ['a __proto__ key', JSON.parse('{"name":"x","description":"y","pilot_steps":[],"__proto__":{"polluted":true}}'), '/__proto__'],
    ['500 steps', wf(Array.from({ length: 500 }, (_, i) => step(`s${i}`))), '/pilot_steps'],
    ['a bad step id', wf([step('Bad Id')]), '/pilot_steps/0'],
  ];
  for (const [what, doc, path] of schema) {
    it(`reports ${what} as schema at ${path}`, () => {
      const r = checkWorkflow(doc, plugins);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.kind).toBe('schema');
      expect(r.errors.some((e) => e.path.startsWith(path))).toBe(true);
    });
  }

  it('refuses absurdly deep JSON without overflowing the stack', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const r = checkWorkflow(deep, plugins);
    expect(r).toMatchObject({ ok: false, kind: 'schema', errors: [expect.objectContaining({ code: 'too_deep' })] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('classifying raw answers', () => {
  const json = JSON.stringify(good);
  it('recovers JSON inside a code fence or prose', () => {
    expect(checkModelText('```json\n' + json + '\n```', plugins).ok).toBe(true);
    expect(checkModelText(`Sure! Here is your workflow:\n${json}\nLet me know if you need changes.`, plugins).ok).toBe(true);
  });
  it('classifies empty, unparseable and truncated answers', () => {
    expect(parseModelText('')).toMatchObject({ ok: false, kind: 'empty' });
    expect(parseModelText('   \n')).toMatchObject({ ok: false, kind: 'empty' });
    expect(parseModelText(null)).toMatchObject({ ok: false, kind: 'empty' });
    expect(parseModelText('I would create a workflow that reads your mail.')).toMatchObject({ ok: false, kind: 'unparseable' });
    expect(parseModelText('{"name": "x" "description": }')).toMatchObject({ ok: false, kind: 'unparseable' });
    expect(parseModelText(json.slice(0, json.length / 2))).toMatchObject({ ok: false, kind: 'truncated' });
  });
});

describe('the strict-mode schema sent to OpenAI', () => {
  it('keeps every property required and closed, without keywords strict mode rejects', () => {
    const text = JSON.stringify(strictWorkflowSchema);
    for (const kw of ['minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', '$schema', '$id']) expect(text).not.toContain(`"${kw}"`);
    const walk = (node: unknown): void => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (n.type === 'object' && n.properties) {
        expect(n.additionalProperties).toBe(false);
        expect([...(n.required as string[])].sort()).toEqual(Object.keys(n.properties as object).sort());
      }
      Object.values(n).forEach(walk);
    };
    walk(strictWorkflowSchema);
  });
});
