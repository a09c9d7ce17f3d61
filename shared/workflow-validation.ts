/**
 * From a model's raw answer to a validated workflow, or to a classified failure with a list of
 * `{ path, code, message }`. The schema is compiled once; graph rules run after it.
 */
import { ajv, toFieldErrors } from './ajv.ts';
import type { FieldError } from './errors.ts';
import { pluginAllowList, type PluginOffer } from './jobs.ts';
import type { ValidationFailureKind } from './outcomes.ts';
import { findUnstorable } from './storable-text.ts';
import { validationWorkflowSchema, type StepRef, type Workflow, type WorkflowStep } from './workflow-schema.ts';

export const MAX_STEPS = 50;
/** Nesting of conditionals and loops; deeper documents are refused before Ajv walks them. */
export const MAX_DEPTH = 8;
const MAX_REPORTED_ERRORS = 50;
/** JSON nesting beyond this is not a workflow; checked iteratively so no stack can overflow. */
const MAX_JSON_DEPTH = 64;

const validateShape = ajv.compile<Workflow>(validationWorkflowSchema);

export type WorkflowCheck =
  | { readonly ok: true; readonly workflow: Workflow; readonly stepCount: number }
  | { readonly ok: false; readonly kind: ValidationFailureKind; readonly errors: readonly FieldError[] };

function failure(kind: ValidationFailureKind, errors: FieldError[]): WorkflowCheck {
  return { ok: false, kind, errors: errors.slice(0, MAX_REPORTED_ERRORS) };
}

export type ParsedOutput = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly kind: ValidationFailureKind; readonly errors: FieldError[] };

/**
 * Parses a text answer. Recovers JSON wrapped in a code fence or surrounded by prose when the
 * wrapped part parses on its own; a document that ends early is `truncated`.
 */
export function parseModelText(text: string | null | undefined): ParsedOutput {
  if (text == null || text.trim() === '') return { ok: false, kind: 'empty', errors: [{ path: '', code: 'empty', message: 'the model returned no content' }] };
  const direct = tryParse(text);
  if (direct.ok) return direct;
  const fenced = /```(?:json)?\s*\n?([\s\S]*?)```/i.exec(text);
  if (fenced?.[1]) {
    const inner = tryParse(fenced[1]);
    if (inner.ok) return inner;
  }
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start >= 0 && end > start) {
    const inner = tryParse(text.slice(start, end + 1));
    if (inner.ok) return inner;
  }
  if (start >= 0 && looksCutShort(text.slice(start))) {
    return { ok: false, kind: 'truncated', errors: [{ path: '', code: 'truncated', message: 'the JSON document ends before it is complete' }] };
  }
  return { ok: false, kind: 'unparseable', errors: [{ path: '', code: 'unparseable', message: `not JSON: ${direct.message}` }] };
}

function tryParse(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * True when the text is a JSON document that stops early: brackets close in order, and some are
 * still open at the end. A mismatched bracket means malformed, not cut.
 */
function looksCutShort(text: string): boolean {
  const open: string[] = [];
  let inString = false;
  let escaped = false;
  for (const ch of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') open.push(ch);
    else if (ch === '}' || ch === ']') {
      if (open.pop() !== (ch === '}' ? '{' : '[')) return false;
    }
  }
  return open.length > 0;
}

function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Nesting and storable text first, then the structural schema, then the graph rules. */
export function checkWorkflow(value: unknown, plugins: readonly PluginOffer[]): WorkflowCheck {
  if (jsonDepthExceeds(value, MAX_JSON_DEPTH)) {
    return failure('schema', [{ path: '', code: 'too_deep', message: `JSON nesting deeper than ${MAX_JSON_DEPTH} levels` }]);
  }
  // Before the schema: its messages and the graph rules' quote ids, and all of it is written.
  const unstorable = findUnstorable(value);
  if (unstorable) return failure('unstorable', [unstorable]);
  if (!validateShape(value)) return failure('schema', toFieldErrors(validateShape.errors));
  const { errors, stepCount } = checkGraph(value, plugins);
  if (errors.length > 0) return failure('semantic', errors);
  return { ok: true, workflow: value, stepCount };
}

/** Parse and check in one go: the path every model answer takes. */
export function checkModelText(text: string | null | undefined, plugins: readonly PluginOffer[]): WorkflowCheck {
  const parsed = parseModelText(text);
  if (!parsed.ok) return failure(parsed.kind, parsed.errors);
  return checkWorkflow(parsed.value, plugins);
}

interface VisitedStep {
  readonly step: WorkflowStep;
  readonly pointer: string;
  readonly order: number;
  readonly depth: number;
}

/**
 * Graph rules: unique ids; references point at existing, earlier steps (a loop's body may
 * reference the loop itself, for its current item); no cycles; plugins and actions offered by
 * the request; at most MAX_STEPS steps and MAX_DEPTH levels.
 */
export function checkGraph(workflow: Workflow, plugins: readonly PluginOffer[]): { errors: FieldError[]; stepCount: number } {
  const errors: FieldError[] = [];
  const allowed = pluginAllowList(plugins);
  const visited: VisitedStep[] = [];

  const walk = (steps: readonly WorkflowStep[], pointer: string, depth: number): void => {
    steps.forEach((step, i) => {
      const here = `${pointer}/${i}`;
      visited.push({ step, pointer: here, order: visited.length, depth });
      if (depth > MAX_DEPTH) errors.push({ path: here, code: 'too_deep', message: `steps nested deeper than ${MAX_DEPTH} levels` });
      if (step.type === 'conditional') {
        walk(step.then_steps, `${here}/then_steps`, depth + 1);
        walk(step.else_steps, `${here}/else_steps`, depth + 1);
      } else if (step.type === 'loop') {
        walk(step.body_steps, `${here}/body_steps`, depth + 1);
      }
    });
  };
  walk(workflow.pilot_steps, '/pilot_steps', 1);

  if (visited.length > MAX_STEPS) {
    errors.push({ path: '/pilot_steps', code: 'too_many_steps', message: `${visited.length} steps; at most ${MAX_STEPS} are allowed` });
  }

  const firstById = new Map<string, VisitedStep>();
  for (const v of visited) {
    const seen = firstById.get(v.step.id);
    if (seen) errors.push({ path: `${v.pointer}/id`, code: 'duplicate_step_id', message: `step id "${v.step.id}" is already used at ${seen.pointer}` });
    else firstById.set(v.step.id, v);
  }

  const edges = new Map<string, Set<string>>();
  for (const v of visited) {
    const deps = new Set<string>();
    for (const { ref, pointer } of referencesOf(v.step, v.pointer)) {
      const target = firstById.get(ref.step);
      if (!target) {
        errors.push({ path: pointer, code: 'unknown_reference', message: `refers to step "${ref.step}", which does not exist` });
        continue;
      }
      deps.add(ref.step);
      const isOwnLoopItem = target === v && v.step.type === 'loop' ? false : isEnclosingLoop(target, v, visited);
      if (target.order >= v.order && !isOwnLoopItem) {
        errors.push({
          path: pointer,
          code: target === v ? 'self_reference' : 'forward_reference',
          message: target === v ? `step "${v.step.id}" refers to itself` : `refers to step "${ref.step}", which comes later`,
        });
      }
    }
    edges.set(v.step.id, deps);

    if (v.step.type === 'plugin_action') {
      const actions = allowed.get(v.step.plugin);
      if (actions === undefined) {
        errors.push({ path: `${v.pointer}/plugin`, code: 'unknown_plugin', message: `plugin "${v.step.plugin}" is not among the available plugins` });
      } else if (actions !== null && !actions.has(v.step.action)) {
        errors.push({ path: `${v.pointer}/action`, code: 'unknown_action', message: `plugin "${v.step.plugin}" offers no action "${v.step.action}"` });
      }
    }
  }

  const cycle = findCycle(edges);
  if (cycle) {
    const at = firstById.get(cycle[0]!);
    errors.push({ path: at?.pointer ?? '/pilot_steps', code: 'cycle', message: `steps form a cycle: ${cycle.join(' -> ')}` });
  }
  return { errors, stepCount: visited.length };
}

/** A loop's body may use the loop's current item: the loop precedes its body in order. */
function isEnclosingLoop(target: VisitedStep, from: VisitedStep, _visited: readonly VisitedStep[]): boolean {
  return target.step.type === 'loop' && from.pointer.startsWith(`${target.pointer}/body_steps/`);
}

function referencesOf(step: WorkflowStep, pointer: string): Array<{ ref: StepRef; pointer: string }> {
  const refs: Array<{ ref: StepRef; pointer: string }> = [];
  switch (step.type) {
    case 'plugin_action':
      step.params.forEach((p, i) => {
        if (p.ref) refs.push({ ref: p.ref, pointer: `${pointer}/params/${i}/ref` });
      });
      break;
    case 'ai_processing':
      step.inputs.forEach((r, i) => refs.push({ ref: r, pointer: `${pointer}/inputs/${i}` }));
      break;
    case 'conditional':
      if (step.condition.left.ref) refs.push({ ref: step.condition.left.ref, pointer: `${pointer}/condition/left/ref` });
      if (step.condition.right.ref) refs.push({ ref: step.condition.right.ref, pointer: `${pointer}/condition/right/ref` });
      break;
    case 'loop':
      refs.push({ ref: step.over, pointer: `${pointer}/over` });
      break;
  }
  return refs;
}

/** Iterative DFS over the reference graph; returns one cycle's ids, or null. */
function findCycle(edges: ReadonlyMap<string, ReadonlySet<string>>): string[] | null {
  const state = new Map<string, 1 | 2>();
  for (const start of edges.keys()) {
    if (state.has(start)) continue;
    const path: string[] = [];
    const stack: Array<{ id: string; it: Iterator<string> }> = [{ id: start, it: (edges.get(start) ?? new Set()).values() }];
    state.set(start, 1);
    path.push(start);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const next = top.it.next();
      if (next.done) {
        state.set(top.id, 2);
        stack.pop();
        path.pop();
        continue;
      }
      const dep = next.value;
      if (!edges.has(dep)) continue;
      const s = state.get(dep);
      if (s === 1) return [...path.slice(path.indexOf(dep)), dep];
      if (s === undefined) {
        state.set(dep, 1);
        path.push(dep);
        stack.push({ id: dep, it: (edges.get(dep) ?? new Set()).values() });
      }
    }
  }
  return null;
}
