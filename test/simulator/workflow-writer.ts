/**
 * Writes the workflow a competent model would answer with: deterministic for (seed, goal,
 * plugins), always valid for `checkWorkflow`. Typical shape: fetch data with one plugin, loop
 * over it with an ai_processing step per item, act through another plugin when a condition
 * holds, and finish with a summary.
 */
import { pluginAllowList, type PluginOffer } from '../../shared/jobs.ts';
import type { AiProcessingStep, ConditionalStep, LoopStep, Operand, PluginActionStep, StepRef, Workflow, WorkflowStep } from '../../shared/workflow-schema.ts';
import { stripDirectives } from './faults.ts';
import { hashSeed, mulberry32, pick, type Rng } from './random.ts';

export interface WriterInput {
  readonly seed: number;
  readonly goal: string;
  readonly plugins: readonly PluginOffer[];
}

export interface Offer {
  readonly key: string;
  /** null: the request allows any action. */
  readonly actions: readonly string[] | null;
}

const READ_VERBS = ['search', 'list', 'get', 'fetch', 'read', 'query', 'find'];
const WRITE_VERBS = ['send', 'create', 'post', 'update', 'notify', 'add', 'append', 'reply'];

/** Goal words that ask for a particular write action when the plugin does not list its actions. */
const WRITE_HINTS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['send', ['send', 'email', 'notify', 'message', 'alert', 'tell', 'ping', 'remind', 'post', 'share']],
  ['create', ['create', 'add', 'log', 'record', 'open', 'file', 'draft', 'schedule', 'save']],
  ['update', ['update', 'mark', 'label', 'tag', 'move', 'archive', 'close', 'assign']],
];

const NOUNS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['emails', ['email', 'emails', 'mail', 'gmail', 'inbox', 'outlook']],
  ['messages', ['message', 'messages', 'slack', 'chat', 'teams', 'discord']],
  ['issues', ['issue', 'issues', 'github', 'gitlab', 'bug', 'bugs', 'pull']],
  ['tickets', ['ticket', 'tickets', 'jira', 'zendesk', 'support', 'helpdesk']],
  ['events', ['event', 'events', 'calendar', 'meeting', 'meetings', 'appointments']],
  ['documents', ['document', 'documents', 'doc', 'docs', 'drive', 'file', 'files', 'dropbox']],
  ['rows', ['row', 'rows', 'sheet', 'sheets', 'spreadsheet', 'airtable']],
  ['leads', ['lead', 'leads', 'contact', 'contacts', 'crm', 'hubspot', 'salesforce', 'customers']],
  ['invoices', ['invoice', 'invoices', 'payment', 'payments', 'stripe', 'billing']],
  ['orders', ['order', 'orders', 'shopify', 'purchases']],
  ['pages', ['page', 'pages', 'notion', 'wiki', 'confluence']],
  ['tasks', ['task', 'tasks', 'todo', 'todos', 'asana', 'trello', 'linear']],
  ['articles', ['article', 'articles', 'news', 'feed', 'rss', 'blog', 'posts']],
  ['reviews', ['review', 'reviews', 'feedback', 'survey', 'responses']],
];

const FIELDS: Readonly<Record<string, string>> = {
  emails: 'id,from,to,subject,date,snippet,labels',
  messages: 'id,channel,user,text,ts,thread_ts',
  issues: 'id,number,title,state,author,labels,updated_at',
  tickets: 'id,subject,status,priority,requester,updated_at',
  events: 'id,summary,start,end,attendees,location',
  documents: 'id,name,owner,modified_time,web_link',
  leads: 'id,name,email,company,stage,last_activity',
};

const SIMPLE_VERBS = new Set([...READ_VERBS, ...WRITE_VERBS]);

const URGENCY_WORDS = ['urgent', 'important', 'priority', 'critical', 'asap', 'vip', 'escalate'];

const STOPWORDS = new Set(
  'a an and are as at be by can do every each for from get give have i if in into is it its me my of on or our please so that the their them then this to up us we when whenever which who will with would you your all any about after before new'.split(
    ' ',
  ),
);

export function writeWorkflow(input: WriterInput): Workflow {
  return new Writer(input).write();
}

/** The offers exactly as the validator reads them (duplicate keys, empty action lists). */
export function normaliseOffers(plugins: readonly PluginOffer[]): Offer[] {
  return [...pluginAllowList(plugins)].map(([key, actions]) => ({ key, actions: actions ? [...actions] : null }));
}

/** Lowercase snake_case, starting with a letter, at most `max` characters. */
export function snake(text: string, max = 64): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^[^a-z]+/, '')
    .slice(0, max)
    .replace(/_+$/, '');
  return s === '' ? 'step' : s;
}

class Writer {
  private readonly rng: Rng;
  private readonly goal: string;
  private readonly words: string[];
  private readonly offers: Offer[];
  private readonly usedIds = new Set<string>();

  constructor({ seed, goal, plugins }: WriterInput) {
    this.rng = mulberry32(hashSeed(seed, goal, JSON.stringify(plugins)));
    this.goal = stripDirectives(goal);
    this.words = this.goal.toLowerCase().match(/[a-z0-9]+/g) ?? [];
    const offers = normaliseOffers(plugins);
    this.offers = offers.length > 0 ? offers : [{ key: 'http', actions: null }];
  }

  write(): Workflow {
    const source = this.sourceOffer();
    const target = this.targetOffer(source);
    const noun = this.noun(source);
    const item = noun.replace(/s$/, '');

    const fetch = this.fetchStep(source, noun);
    const steps: WorkflowStep[] = [fetch];
    const useLoop = this.rng() < 0.8;
    const analysis = useLoop ? this.loopStep(fetch, source, noun, item) : this.analyseAllStep(fetch, noun);
    steps.push(analysis);
    const findings: StepRef = useLoop ? { step: analysis.id, path: 'results' } : { step: analysis.id, path: '' };

    const useConditional = this.rng() < (target.key === source.key ? 0.5 : 0.85);
    if (useConditional) steps.push(this.conditionalStep(findings, target, noun));
    steps.push(this.summaryStep(steps, noun));

    const name = this.workflowName(source, noun);
    const outline = steps.map((st, i) => `${i + 1}) ${st.name}`).join('; ');
    const description = excerpt(`${this.description(source, target, noun, useConditional)} Steps: ${outline}.`, 2000);
    return { name, description, pilot_steps: steps };
  }

  private fetchStep(source: Offer, noun: string): PluginActionStep {
    const action = this.action(source, READ_VERBS, this.readVerbHint());
    const params: PluginActionStep['params'] = [];
    if (/search|query|find/i.test(action) || this.rng() < 0.5) params.push(literal('query', this.searchQuery()));
    params.push(literal('max_results', pick(this.rng, [10, 20, 25, 50, 100])));
    params.push(literal('fields', FIELDS[noun] ?? 'id,title,owner,created_at,updated_at,url'));
    const window = this.timeWindow();
    if (window) params.push(literal('since', window));
    return {
      id: this.id(`${action}_${noun}`),
      type: 'plugin_action',
      name: SIMPLE_VERBS.has(action) ? `${capitalise(action)} ${noun} in ${source.key}` : `Fetch ${noun} with ${source.key} ${action}`,
      plugin: source.key,
      action,
      params,
    };
  }

  private loopStep(fetch: PluginActionStep, source: Offer, noun: string, item: string): LoopStep {
    const loopId = this.id(`for_each_${item}`);
    const analyse: AiProcessingStep = {
      id: this.id(`analyze_${item}`),
      type: 'ai_processing',
      name: `Analyze the ${item}`,
      prompt: this.itemPrompt(item, source.key),
      inputs: [{ step: loopId, path: 'item' }],
      output_format: 'json',
    };
    const body: WorkflowStep[] = [analyse];
    if (this.rng() < 0.4) {
      const action = this.action(source, ['update', 'label', 'tag', 'mark', 'annotate'], 'update');
      body.push({
        id: this.id(`${action}_${item}`),
        type: 'plugin_action',
        name: `Record the analysis on the ${item} in ${source.key}`,
        plugin: source.key,
        action,
        params: [
          { name: 'id', value: null, ref: { step: loopId, path: 'item.id' } },
          { name: 'label', value: null, ref: { step: analyse.id, path: 'priority' } },
        ],
      });
    }
    return {
      id: loopId,
      type: 'loop',
      name: `Process each ${item}`,
      over: { step: fetch.id, path: pick(this.rng, ['items', 'results', 'data', noun]) },
      max_iterations: pick(this.rng, [10, 20, 25, 50, 100]),
      body_steps: body,
    };
  }

  private analyseAllStep(fetch: PluginActionStep, noun: string): AiProcessingStep {
    return {
      id: this.id(`analyze_${noun}`),
      type: 'ai_processing',
      name: `Analyze the ${noun}`,
      prompt: `${this.itemPrompt(noun, fetch.plugin)} Process every entry of the list and return a JSON array with one object per entry, in the original order.`,
      inputs: [{ step: fetch.id, path: '' }],
      output_format: 'json',
    };
  }

  private conditionalStep(findings: StepRef, target: Offer, noun: string): ConditionalStep {
    const urgent = this.words.some((w) => URGENCY_WORDS.includes(w));
    const left: Operand = { ref: urgent ? { step: findings.step, path: joinPath(findings.path, 'priority') } : { step: findings.step, path: joinPath(findings.path, 'length') }, value: null };
    const condition: ConditionalStep['condition'] = urgent
      ? { left, operator: 'contains', right: { ref: null, value: 'high' } }
      : { left, operator: 'greater_than', right: { ref: null, value: 0 } };
    const condId = this.id(urgent ? `check_urgent_${noun}` : `check_any_${noun}`);

    const then: WorkflowStep[] = [];
    let message: StepRef = findings;
    if (this.rng() < 0.5) {
      const draft: AiProcessingStep = {
        id: this.id('draft_notification'),
        type: 'ai_processing',
        name: `Draft the notification for ${target.key}`,
        prompt: `Write a short, friendly notification about the ${noun} below for a busy reader. Lead with what needs attention and why, list at most five items as bullet points with their owner and deadline, and end with the single most useful next step. Keep it under 150 words, plain text, no greeting or sign-off.`,
        inputs: [findings],
        output_format: 'text',
      };
      then.push(draft);
      message = { step: draft.id, path: '' };
    }
    const action = this.action(target, WRITE_VERBS, this.writeVerbHint());
    then.push({
      id: this.id(`${action}_${target.key}`),
      type: 'plugin_action',
      name: SIMPLE_VERBS.has(action) ? `${capitalise(action)} the result via ${target.key}` : `Call ${target.key} ${action} with the result`,
      plugin: target.key,
      action,
      params: [literal(pick(this.rng, ['channel', 'to', 'recipient', 'destination']), this.destination(target)), { name: pick(this.rng, ['text', 'body', 'content']), value: null, ref: message }],
    });
    return {
      id: condId,
      type: 'conditional',
      name: urgent ? `If any ${noun} need urgent attention` : `If there are any ${noun} to report`,
      condition,
      then_steps: then,
      else_steps: [],
    };
  }

  private summaryStep(earlier: readonly WorkflowStep[], noun: string): AiProcessingStep {
    const inputs: StepRef[] = earlier.slice(1).map((s) => ({ step: s.id, path: '' }));
    return {
      id: this.id('summarize_results'),
      type: 'ai_processing',
      name: 'Summarize the run',
      prompt: `Summarize what this run did for the user's goal: "${excerpt(this.goal, 300)}". State how many ${noun} were processed, which ones needed attention and what was done about them, and anything that failed or was skipped. Use at most six short bullet points followed by one sentence recommending what to check next. Be factual and refer only to the inputs.`,
      inputs,
      output_format: 'text',
    };
  }

  private itemPrompt(item: string, source: string): string {
    return `You are reviewing ${/^[aeiou]/.test(item) ? 'an' : 'a'} ${item} retrieved from ${source} for this goal: "${excerpt(this.goal, 400)}". Read it carefully and extract: a one-sentence summary, the sender or owner, any dates or deadlines, the action requested of the user if any, and a priority of high, medium or low with a short justification tied to the goal. Treat anything that blocks someone, mentions a deadline within two working days or comes from a customer or a manager as high priority; newsletters, notifications and other automated messages are low. Respond with a JSON object with the keys summary, owner, deadline, action, priority and reason; use null for anything the ${item} does not say. Do not invent facts and do not include the original text.`;
  }

  private workflowName(source: Offer, noun: string): string {
    const sentence = this.goal.split(/(?<=[.!?])\s|\n/)[0] ?? '';
    const base = sentence.replace(/[.!?]+$/, '').trim();
    return base === '' ? `${capitalise(humanise(source.key))} ${noun} workflow` : capitalise(excerpt(base, 80));
  }

  private description(source: Offer, target: Offer, noun: string, acts: boolean): string {
    const goal = this.goal === '' ? '' : `Goal: ${excerpt(this.goal, 1000)} `;
    const plan = acts
      ? `Fetches ${noun} from ${source.key}, analyzes them with AI, acts through ${target.key} when there is something to report, and summarizes the run.`
      : `Fetches ${noun} from ${source.key}, analyzes them with AI and summarizes the findings.`;
    return `${goal}${plan} Runs unattended; entries that fail to process are skipped and reported in the final summary.`;
  }

  /** The first plugin the goal names that can read, else any that can read, else the first. */
  private sourceOffer(): Offer {
    const canRead = (o: Offer): boolean => o.actions === null || o.actions.some((a) => READ_VERBS.some((v) => a.toLowerCase().includes(v)));
    return this.byMention(this.offers).find(canRead) ?? this.offers.find(canRead) ?? this.offers[0]!;
  }

  private targetOffer(source: Offer): Offer {
    const others = this.offers.filter((o) => o.key !== source.key);
    if (others.length === 0) return source;
    return this.byMention(others)[0] ?? pick(this.rng, others);
  }

  /** The offers the goal names, in the order the goal names them. */
  private byMention(offers: readonly Offer[]): Offer[] {
    return offers
      .map((o) => ({ o, at: this.mentionIndex(o.key) }))
      .filter(({ at }) => at >= 0)
      .sort((a, b) => a.at - b.at)
      .map(({ o }) => o);
  }

  /** A listed action matching the preferred verbs, else any listed one, else the hinted verb. */
  private action(offer: Offer, verbs: readonly string[], hint: string): string {
    if (offer.actions === null) return hint;
    for (const verb of [hint, ...verbs]) {
      const match = offer.actions.find((a) => a.toLowerCase().includes(verb));
      if (match) return match;
    }
    return pick(this.rng, offer.actions);
  }

  private readVerbHint(): string {
    const named = ['search', 'list', 'get'].find((v) => this.words.includes(v));
    if (named) return named;
    if (this.words.some((w) => ['find', 'look', 'query', 'mentioning', 'about', 'matching'].includes(w))) return 'search';
    return pick(this.rng, ['list', 'search', 'list', 'get']);
  }

  private writeVerbHint(): string {
    for (const [verb, hints] of WRITE_HINTS) if (this.words.some((w) => hints.includes(w))) return verb;
    return pick(this.rng, ['send', 'create']);
  }

  private noun(source: Offer): string {
    const keyWords = source.key.toLowerCase().split(/[^a-z0-9]+/);
    for (const words of [this.words, keyWords]) {
      for (const w of words) {
        const hit = NOUNS.find(([, hints]) => hints.includes(w));
        if (hit) return hit[0];
      }
    }
    return 'items';
  }

  private searchQuery(): string {
    const keywords = this.words.filter((w) => w.length >= 3 && !STOPWORDS.has(w) && !/^\d+$/.test(w));
    return keywords.slice(0, 6).join(' ') || 'is:unread';
  }

  private timeWindow(): string | null {
    if (this.words.some((w) => ['daily', 'today', 'yesterday', 'day', 'morning', 'night'].includes(w))) return '24h';
    if (this.words.some((w) => ['weekly', 'week', 'monday', 'friday'].includes(w))) return '7d';
    if (this.words.some((w) => ['monthly', 'month'].includes(w))) return '30d';
    return this.rng() < 0.3 ? '24h' : null;
  }

  private destination(target: Offer): string {
    const key = target.key.toLowerCase();
    if (/mail|gmail|outlook/.test(key)) return 'me';
    if (/slack|teams|discord|chat/.test(key)) return pick(this.rng, ['#general', '#alerts', '#team-updates']);
    return pick(this.rng, ['default', 'inbox', 'me']);
  }

  /** Where the goal first names the plugin, by a part of its key or a word for its data. */
  private mentionIndex(key: string): number {
    const parts = key.toLowerCase().split(/[^a-z0-9]+/).filter((p) => p.length >= 3);
    const aliases = new Set(parts);
    for (const [, hints] of NOUNS) if (parts.some((p) => hints.includes(p))) hints.forEach((h) => aliases.add(h));
    return this.words.findIndex((w) => aliases.has(w));
  }

  /** Unique, schema-conformant id; a clash gets a numeric suffix. */
  private id(base: string): string {
    const stem = snake(base, 60);
    let id = stem;
    for (let n = 2; this.usedIds.has(id); n++) id = `${stem}_${n}`;
    this.usedIds.add(id);
    return id;
  }
}

function literal(name: string, value: string | number | boolean | null): PluginActionStep['params'][number] {
  return { name, value, ref: null };
}

function joinPath(base: string, leaf: string): string {
  return base === '' ? leaf : `${base}.${leaf}`;
}

function humanise(text: string): string {
  return text.replace(/[_.-]+/g, ' ').trim();
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** At most `max` characters, cut at a word boundary when there is one nearby. */
function excerpt(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
