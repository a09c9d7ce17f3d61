/**
 * The dashboards this repository ships, rendered to the JSON Grafana provisions. Shared by the
 * `npm run dashboards` script and the test that fails when the committed JSON is stale.
 */
import { fileURLToPath } from 'node:url';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildOverviewDashboard, numberPanels } from './overview.ts';

/** Where Grafana's file provider reads dashboards from (mounted by docker-compose.yml). */
export const DASHBOARD_DIR = fileURLToPath(new URL('./grafana/dashboards/', import.meta.url));

export const DASHBOARDS: ReadonlyArray<{ readonly file: string; readonly build: () => Dashboard }> = [
  { file: 'orchestrator-overview.json', build: () => numberPanels(buildOverviewDashboard()) },
];

/** File name → the exact text that should be committed. */
export function renderDashboards(): Map<string, string> {
  return new Map(DASHBOARDS.map((d) => [d.file, `${JSON.stringify(d.build(), null, 2)}\n`]));
}
