/** What the simulated model says, before either vendor's wire format dresses it. */
import type { OutputFault } from './faults.ts';
import { breakSchema, breakSemantics } from './bad-workflows.ts';
import { hashSeed, mulberry32, pick } from './random.ts';
import { writeWorkflow, type WriterInput } from './workflow-writer.ts';

export type Answer =
  /** A JSON document given as the structured answer (OpenAI content, Anthropic tool input). */
  | { readonly kind: 'json'; readonly value: unknown }
  /** Free text; `cut` when it stopped at the output limit. */
  | { readonly kind: 'text'; readonly text: string; readonly cut: boolean }
  | { readonly kind: 'refusal'; readonly text: string }
  | { readonly kind: 'empty' };

const REFUSALS = [
  "I'm sorry, but I can't help with creating this workflow.",
  "I can't assist with that request.",
  "I'm not able to help with this one. If you rephrase the goal, I can try again.",
];

export function composeAnswer(outcome: 'ok' | OutputFault, input: WriterInput): Answer {
  const workflow = writeWorkflow(input);
  const rng = mulberry32(hashSeed(input.seed, input.goal, outcome));
  switch (outcome) {
    case 'ok':
      return { kind: 'json', value: workflow };
    case 'schema':
      return { kind: 'json', value: breakSchema(workflow, rng) };
    case 'semantic':
      return { kind: 'json', value: breakSemantics(workflow, input, rng) };
    case 'prose_wrapped':
      return {
        kind: 'text',
        text: `Here is a workflow for your goal:\n\n\`\`\`json\n${JSON.stringify(workflow, null, 2)}\n\`\`\`\n\nIt has ${workflow.pilot_steps.length} top-level steps. Let me know if you would like any changes.`,
        cut: false,
      };
    case 'truncated': {
      const full = JSON.stringify(workflow);
      return { kind: 'text', text: full.slice(0, Math.floor(full.length * (0.4 + rng() * 0.2))), cut: true };
    }
    case 'unparseable':
      return {
        kind: 'text',
        text: `Sure! To reach this goal, first connect your accounts, then fetch the relevant items, review each one and send yourself a short summary at the end. ${pick(rng, ['Would you like me to go into more detail on any step?', 'I can also describe the individual steps in more depth if that helps.'])}`,
        cut: false,
      };
    case 'refusal':
      return { kind: 'refusal', text: pick(rng, REFUSALS) };
    case 'empty':
      return { kind: 'empty' };
  }
}

/** The text the model emits for this answer (what output tokens are counted on). */
export function answerText(answer: Answer): string {
  switch (answer.kind) {
    case 'json':
      return JSON.stringify(answer.value);
    case 'text':
    case 'refusal':
      return answer.text;
    case 'empty':
      return '';
  }
}

/** An answer longer than the request's output limit stops there, as a real model's would. */
export function capAnswer(answer: Answer, maxChars: number | null): Answer {
  if (maxChars === null || answer.kind === 'empty' || answer.kind === 'refusal') return answer;
  const text = answerText(answer);
  return text.length <= maxChars ? answer : { kind: 'text', text: text.slice(0, Math.max(0, maxChars)), cut: true };
}
