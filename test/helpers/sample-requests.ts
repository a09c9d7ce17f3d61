/** Realistic goals and plugin sets, shared by the demo and the benchmarks. */
import type { GenerationRequest } from '../../shared/jobs.ts';

export const SAMPLE_GOALS: readonly string[] = [
  'Every morning, summarise my unread emails and post the summary to Slack',
  'When a new lead fills the website form, add it to the CRM sheet and notify sales',
  'Collect invoices from email attachments, extract totals and append them to a spreadsheet',
  'Each Friday, compile merged pull requests into release notes and email them to the team',
  'Watch the support inbox, classify urgent tickets and page the on-call engineer',
  'Translate new blog posts into Spanish and publish drafts to the CMS',
  'Track competitor prices daily and alert me in Slack when one drops below ours',
  'Turn meeting transcripts into action items and create tasks for each owner',
];

export const SAMPLE_PLUGIN_SETS: readonly GenerationRequest['availablePlugins'][] = [
  ['google-mail', 'slack'],
  ['google-mail', { key: 'google-sheets', actions: ['read_rows', 'append_row'] }, 'hubspot'],
  ['github', 'google-mail', 'notion'],
  ['zendesk', 'pagerduty', 'slack'],
  ['wordpress', 'deepl'],
];

/** The i-th sample goal and plugin set, cycling through both lists. */
export function sampleRequestParts(i: number): { userGoal: string; availablePlugins: GenerationRequest['availablePlugins'] } {
  return { userGoal: SAMPLE_GOALS[i % SAMPLE_GOALS.length]!, availablePlugins: SAMPLE_PLUGIN_SETS[i % SAMPLE_PLUGIN_SETS.length]! };
}
