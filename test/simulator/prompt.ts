/**
 * What the simulated model reads from a request: the system prompt (for caching) and the goal
 * and plugins from the user message, written by the orchestrator as two delimited JSON fields
 *
 *   <user_goal>
 *   "<the goal as a JSON string>"
 *   </user_goal>
 *   <available_plugins>
 *   [<the plugins as JSON>]
 *   </available_plugins>
 *
 * or, from older clients, as `GOAL: <text…>` then `AVAILABLE_PLUGINS_JSON: <one line of JSON>`.
 */
import type { PluginOffer } from '../../shared/jobs.ts';

export interface GenerationPrompt {
  readonly goal: string;
  readonly plugins: readonly PluginOffer[];
}

export const FALLBACK_PLUGINS: readonly PluginOffer[] = ['http'];

const GOAL_HEADER = 'GOAL:';
const PLUGINS_HEADER = 'AVAILABLE_PLUGINS_JSON:';
const PLUGIN_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ACTION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The JSON value of `<name>…</name>`: the first such field, as a strict reader takes it. */
export function fieldValue(userText: string, name: string): { found: boolean; value: unknown } {
  const m = new RegExp(`<${name}>\\n([^\\n]*)\\n</${name}>`).exec(userText);
  if (!m) return { found: false, value: undefined };
  try {
    return { found: true, value: JSON.parse(m[1]!) };
  } catch {
    return { found: true, value: undefined };
  }
}

export function parseGenerationPrompt(userText: string): GenerationPrompt {
  const goalField = fieldValue(userText, 'user_goal');
  if (goalField.found) {
    const plugins = fieldValue(userText, 'available_plugins');
    const offers = Array.isArray(plugins.value) ? parsePlugins(JSON.stringify(plugins.value)) : [];
    return { goal: typeof goalField.value === 'string' ? goalField.value : '', plugins: offers.length > 0 ? offers : FALLBACK_PLUGINS };
  }
  const lines = userText.split(/\r?\n/);
  const goalAt = lines.findIndex((l) => l.startsWith(GOAL_HEADER));
  // The last plugins header: the goal above it is user text and may contain anything.
  let pluginsAt = -1;
  lines.forEach((l, i) => {
    if (i > goalAt && l.startsWith(PLUGINS_HEADER)) pluginsAt = i;
  });
  const goalEnd = pluginsAt >= 0 ? pluginsAt : lines.length;
  const goal = goalAt >= 0 ? [lines[goalAt]!.slice(GOAL_HEADER.length), ...lines.slice(goalAt + 1, goalEnd)].join('\n').trim() : userText.trim();
  const plugins = pluginsAt >= 0 ? parsePlugins(firstLineOf(lines, pluginsAt, PLUGINS_HEADER)) : [];
  return { goal: unquote(goal), plugins: plugins.length > 0 ? plugins : FALLBACK_PLUGINS };
}

/** The rest of the header line, or the next non-empty line. */
function firstLineOf(lines: readonly string[], at: number, header: string): string {
  const rest = lines[at]!.slice(header.length).trim();
  if (rest !== '') return rest;
  return lines.slice(at + 1).find((l) => l.trim() !== '')?.trim() ?? '';
}

/** A goal the orchestrator chose to JSON-encode is decoded; anything else is kept as written. */
function unquote(goal: string): string {
  if (!goal.startsWith('"')) return goal;
  try {
    const value: unknown = JSON.parse(goal);
    return typeof value === 'string' ? value : goal;
  } catch {
    return goal;
  }
}

/** Keeps the well-formed offers and drops the rest, as a lenient model would. */
function parsePlugins(json: string): PluginOffer[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(data)) return [];
  const offers: PluginOffer[] = [];
  for (const item of data) {
    if (typeof item === 'string') {
      if (PLUGIN_KEY.test(item)) offers.push(item);
    } else if (typeof item === 'object' && item !== null && typeof item.key === 'string' && PLUGIN_KEY.test(item.key)) {
      const actions = Array.isArray(item.actions) ? item.actions.filter((a: unknown): a is string => typeof a === 'string' && ACTION_NAME.test(a)) : undefined;
      const description = typeof item.description === 'string' ? item.description : undefined;
      offers.push({ key: item.key, ...(actions ? { actions } : {}), ...(description !== undefined ? { description } : {}) });
    }
  }
  return offers;
}
