/** The workflow schema, the graph rules and the classification of raw model answers. */
import { describe, expect, it } from 'vitest';
import { checkModelText, checkWorkflow, parseModelText } from '../shared/workflow-validation.ts';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { strictWorkflowSchema, workflowSchema } from '../shared/workflow-schema.ts';
import { breakSchema } from './simulator/bad-workflows.ts';
import { mulberry32 } from './simulator/random.ts';
import { writeWorkflow } from './simulator/workflow-writer.ts';

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

describe('the schema as the worker checks it', () => {
  // The published schema, compiled on its own: the reference the rewritten one must agree with.
  const reference = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(workflowSchema);
  const goals = ['Read my mail and post urgent ones to Slack', 'Each morning summarise new sheet rows, and if any mention a refund, email the team', 'For every open ticket, draft a reply and wait'];
  const written = Array.from({ length: 60 }, (_, i) => writeWorkflow({ seed: i, goal: goals[i % goals.length]!, plugins }));

  /** Every object and array in a document, with a way to replace what it holds. */
  function slots(node: unknown, out: Array<{ holder: Record<string, unknown>; key: string }> = []) {
    if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        out.push({ holder: node as Record<string, unknown>, key });
        slots(value, out);
      }
    }
    return out;
  }
  const REPLACEMENTS: unknown[] = [null, 42, 'text', true, [], {}, { step: 'a', path: '' }, { step: 'a' }, 'loop', 'plugin_action', 'conditional', -1, 1.5, { ref: null, value: 1 }];

  it('accepts and refuses exactly what the published schema does', () => {
    const rng = mulberry32(7);
    const docs: unknown[] = [good, ...written];
    for (const base of written) {
      for (let i = 0; i < 40; i++) {
        const doc = structuredClone(base);
        const all = slots(doc);
        const { holder, key } = all[Math.floor(rng() * all.length)]!;
        const r = rng();
        if (r < 0.2 && !Array.isArray(holder)) delete holder[key];
        else if (r < 0.3 && !Array.isArray(holder)) holder.extra = 'x';
        else holder[key] = structuredClone(REPLACEMENTS[Math.floor(rng() * REPLACEMENTS.length)]);
        docs.push(doc);
      }
      docs.push(breakSchema(base, rng));
    }
    let refused = 0;
    for (const doc of docs) {
      const expected = reference(doc);
      if (!expected) refused++;
      expect(checkWorkflow(doc, plugins).ok === false && (checkWorkflow(doc, plugins) as { kind: string }).kind === 'schema', JSON.stringify(doc)).toBe(!expected);
    }
    // The corpus has both kinds, many of each.
    expect(refused).toBeGreaterThan(500);
    expect(docs.length - refused).toBeGreaterThan(300);
  });

  it('reports the error of the step kind a step names, not of every kind it is not', () => {
    const r = checkWorkflow(wf([step('a', { name: 42 })]), plugins);
    expect(r).toMatchObject({ ok: false, kind: 'schema', errors: [{ path: '/pilot_steps/0/name', code: 'type', message: 'must be string' }] });
    const unknownKind = checkWorkflow(wf([step('a', { type: 'plugin_call' })]), plugins);
    expect(unknownKind).toMatchObject({ ok: false, kind: 'schema', errors: [{ path: '/pilot_steps/0/type', code: 'enum' }] });
  });
});
