/**
 * The answers of a model that got it wrong: valid JSON that breaks the schema, or a
 * schema-valid workflow that breaks the graph rules. Both start from the writer's workflow.
 */
import type { Workflow, WorkflowStep } from '../../shared/workflow-schema.ts';
import { pick, type Rng } from './random.ts';
import { normaliseOffers, type WriterInput } from './workflow-writer.ts';

const UNOFFERED_PLUGINS = ['zapier', 'webhooks', 'ifttt', 'n8n', 'http-request', 'make-com'];

type Json = Record<string, unknown>;

/** One typical structural mistake: a missing field, a wrong type, an unknown enum value or property. */
export function breakSchema(workflow: Workflow, rng: Rng): unknown {
  const doc = structuredClone(workflow) as unknown as { pilot_steps: Json[] } & Json;
  const step = pick(rng, doc.pilot_steps);
  const mistakes: Array<() => void> = [
    () => delete step.name,
    () => (step.name = 42),
    () => (step.type = 'plugin_call'),
    () => (step.notes = 'Added for clarity.'),
    () => (doc.pilot_steps = doc.pilot_steps.map((s) => ({ ...s, id: String(s.id).toUpperCase() }))),
  ];
  const ai = doc.pilot_steps.find((s) => s.type === 'ai_processing');
  if (ai) mistakes.push(() => (ai.output_format = 'markdown'));
  const loop = doc.pilot_steps.find((s) => s.type === 'loop');
  if (loop) mistakes.push(() => (loop.max_iterations = String(loop.max_iterations)));
  pick(rng, mistakes)();
  return doc;
}

/** One typical graph mistake: an unoffered plugin or action, or a reference to a later step. */
export function breakSemantics(workflow: Workflow, input: WriterInput, rng: Rng): Workflow {
  const doc = structuredClone(workflow);
  const first = doc.pilot_steps[0]!;
  const last = doc.pilot_steps[doc.pilot_steps.length - 1]!;
  const offers = normaliseOffers(input.plugins);
  const offered = new Set(offers.map((o) => o.key));
  const mistakes: Array<() => void> = [() => addForwardReference(first, last)];
  const stranger = UNOFFERED_PLUGINS.find((k) => !offered.has(k));
  if (first.type === 'plugin_action' && stranger) mistakes.push(() => (first.plugin = stranger));
  const actions = offers.find((o) => first.type === 'plugin_action' && o.key === first.plugin)?.actions;
  if (first.type === 'plugin_action' && actions && !actions.includes('bulk_export')) mistakes.push(() => (first.action = 'bulk_export'));
  pick(rng, mistakes)();
  return doc;
}

function addForwardReference(step: WorkflowStep, later: WorkflowStep): void {
  const ref = { step: later.id, path: '' };
  if (step.type === 'plugin_action') step.params.push({ name: 'context', value: null, ref });
  else if (step.type === 'ai_processing') step.inputs.push(ref);
  else if (step.type === 'loop') step.over = ref;
  else step.condition.left = { ref, value: null };
}
