/**
 * The workflow a model must answer with: a name, a description and `pilot_steps`.
 * One JSON Schema (draft 2020-12) is the structural truth; graph rules live in
 * workflow-validation.ts. The same schema, reduced to what OpenAI's strict mode accepts, is
 * sent to the models as the structured-output format.
 */
import type { FromSchema } from 'json-schema-to-ts';

const STEP_ID = { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$', description: 'Unique snake_case id, such as "fetch_emails".' } as const;
const SCALAR = { type: ['string', 'number', 'boolean', 'null'], description: 'A literal value.' } as const;

const STEP_LIST = (maxItems: number) => ({ type: 'array', maxItems, items: { $ref: '#/$defs/step' } }) as const;

const stepRefSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['step', 'path'],
  description: 'The output of an earlier step (or, inside a loop body, the loop\'s current item with path "item").',
  properties: {
    step: STEP_ID,
    path: { type: 'string', maxLength: 200, description: 'Dot path into that output; empty for the whole output.' },
  },
} as const;

const operandSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ref', 'value'],
  description: 'Either a reference (value null) or a literal (ref null).',
  properties: { ref: { anyOf: [stepRefSchema, { type: 'null' }] }, value: SCALAR },
} as const;

const paramSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'value', 'ref'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    value: SCALAR,
    ref: { anyOf: [stepRefSchema, { type: 'null' }] },
  },
} as const;

const pluginActionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'name', 'plugin', 'action', 'params'],
  description: 'Call one action of one of the available plugins.',
  properties: {
    id: STEP_ID,
    type: { type: 'string', const: 'plugin_action' },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    plugin: { type: 'string', minLength: 1, maxLength: 64 },
    action: { type: 'string', minLength: 1, maxLength: 64 },
    params: { type: 'array', maxItems: 50, items: paramSchema },
  },
} as const;

const aiProcessingSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'name', 'prompt', 'inputs', 'output_format'],
  description: 'Ask a model to process earlier outputs (summarise, classify, extract, draft).',
  properties: {
    id: STEP_ID,
    type: { type: 'string', const: 'ai_processing' },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    prompt: { type: 'string', minLength: 1, maxLength: 4000 },
    inputs: { type: 'array', maxItems: 20, items: stepRefSchema },
    output_format: { type: 'string', enum: ['text', 'json'] },
  },
} as const;

const conditionalSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'name', 'condition', 'then_steps', 'else_steps'],
  description: 'Run then_steps when the condition holds, else_steps otherwise.',
  properties: {
    id: STEP_ID,
    type: { type: 'string', const: 'conditional' },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    condition: {
      type: 'object',
      additionalProperties: false,
      required: ['left', 'operator', 'right'],
      properties: {
        left: operandSchema,
        operator: { type: 'string', enum: ['equals', 'not_equals', 'greater_than', 'less_than', 'contains', 'exists', 'not_exists'] },
        right: operandSchema,
      },
    },
    then_steps: STEP_LIST(50),
    else_steps: STEP_LIST(50),
  },
} as const;

const loopSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'name', 'over', 'max_iterations', 'body_steps'],
  description: 'Run body_steps once for each item of a list produced by an earlier step.',
  properties: {
    id: STEP_ID,
    type: { type: 'string', const: 'loop' },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    over: stepRefSchema,
    max_iterations: { type: 'integer', minimum: 1, maximum: 1000 },
    body_steps: { ...STEP_LIST(50), minItems: 1 },
  },
} as const;

const workflowHeaderSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 120, description: 'Short name of the workflow.' },
    description: { type: 'string', minLength: 1, maxLength: 2000, description: 'What the workflow does, in one or two sentences.' },
  },
} as const;

export const workflowSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://workflow-orchestrator.dev/schemas/workflow.json',
  title: 'Workflow',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description', 'pilot_steps'],
  properties: {
    ...workflowHeaderSchema.properties,
    pilot_steps: { type: 'array', minItems: 1, maxItems: 50, items: { $ref: '#/$defs/step' }, description: 'Steps in execution order.' },
  },
  $defs: {
    step: { anyOf: [pluginActionSchema, aiProcessingSchema, conditionalSchema, loopSchema] },
  },
} as const;

// json-schema-to-ts cannot follow a recursive $ref: each step kind's type comes from its own
// schema, and only the nested step lists are spelled out here.
export type StepRef = FromSchema<typeof stepRefSchema>;
export type Operand = FromSchema<typeof operandSchema>;
export type PluginActionStep = FromSchema<typeof pluginActionSchema>;
export type AiProcessingStep = FromSchema<typeof aiProcessingSchema>;
export type ConditionalStep = Omit<FromSchema<typeof conditionalSchema>, 'then_steps' | 'else_steps'> & {
  then_steps: WorkflowStep[];
  else_steps: WorkflowStep[];
};
export type LoopStep = Omit<FromSchema<typeof loopSchema>, 'body_steps'> & { body_steps: WorkflowStep[] };
export type WorkflowStep = PluginActionStep | AiProcessingStep | ConditionalStep | LoopStep;
export type Workflow = FromSchema<typeof workflowHeaderSchema> & { pilot_steps: WorkflowStep[] };


/** Keywords OpenAI's strict structured outputs do not accept (or did not, in some versions). */
const NON_STRICT_KEYWORDS = new Set(['$schema', '$id', 'title', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'minimum', 'maximum', 'uniqueItems', 'format']);

function strip(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (NON_STRICT_KEYWORDS.has(k)) continue;
    // Property *names* are data, not keywords: keep every entry of `properties` and `$defs`.
    out[k] = k === 'properties' || k === '$defs' ? Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, strip(pv)])) : strip(v);
  }
  return out;
}

/**
 * `workflowSchema` as the worker's Ajv checks it: the same documents pass, but each union is
 * written so that Ajv walks one branch. With anyOf, and allErrors on, Ajv tries a step against
 * every kind in turn and builds the error objects of each branch that fails, even when the step
 * is valid (a loop step: three failed branches), then reports all of them when none fits. Here a
 * step's `type` picks its kind (if/then), and a reference that may be null is one schema of type
 * object or null. A test checks that both schemas agree on every document of the test corpora.
 */
export const validationWorkflowSchema = ((): Record<string, unknown> => {
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] = k === 'properties' || k === '$defs' ? Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, rewrite(pv)])) : rewrite(v);
    }
    const alternatives = out.anyOf as Array<Record<string, unknown>> | undefined;
    if (!alternatives) return out;
    const { anyOf: _anyOf, ...rest } = out;
    // The rewrites below set `type`, `required` and `properties`: beside the anyOf there may be
    // annotations only, or they would be overwritten without a word.
    const beside = Object.keys(rest).filter((k) => k !== 'description' && k !== 'title' && k !== '$comment');
    if (beside.length > 0) throw new Error(`validationWorkflowSchema: an anyOf beside ${beside.join(', ')}; extend the rewrite`);
    // { anyOf: [S, { type: 'null' }] } with S an object schema: S with type object or null.
    const objects = alternatives.filter((a) => a.type === 'object');
    if (alternatives.length === 2 && objects.length === 1 && alternatives.some((a) => a.type === 'null' && Object.keys(a).length === 1)) {
      return { ...rest, ...objects[0], type: ['object', 'null'] };
    }
    // Object schemas each with a constant `type` property: a tagged union.
    const tags = alternatives.map((a) => ((a.properties as Record<string, { const?: unknown }> | undefined)?.type?.const));
    if (objects.length === alternatives.length && tags.every((t) => typeof t === 'string') && new Set(tags).size === tags.length) {
      return {
        ...rest,
        type: 'object',
        required: ['type'],
        properties: { type: { enum: tags } },
        allOf: alternatives.map((a, i) => ({ if: { required: ['type'], properties: { type: { const: tags[i] } } }, then: a })),
      };
    }
    throw new Error('validationWorkflowSchema: an anyOf it cannot rewrite; extend the rewrite or keep the anyOf out of the schema');
  };
  return { ...(rewrite(workflowSchema) as Record<string, unknown>), $id: workflowSchema.$id.replace(/\.json$/, '-validation.json') };
})();

/** The strict-compatible subset for OpenAI `response_format: { type: 'json_schema', strict: true }`. */
export const strictWorkflowSchema = strip(workflowSchema) as Record<string, unknown>;

/** For Anthropic forced tool use: the full schema minus the meta keywords tools do not need. */
export const toolWorkflowSchema = (() => {
  const { $schema: _s, $id: _i, title: _t, ...rest } = workflowSchema;
  return rest as unknown as Record<string, unknown>;
})();

export const WORKFLOW_TOOL_NAME = 'submit_workflow';
export const WORKFLOW_FORMAT_NAME = 'workflow';
