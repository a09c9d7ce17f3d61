/**
 * `npm run dashboards`: writes the dashboards' JSON under dashboards/grafana/dashboards/.
 * `npm run dashboards -- --check`: writes nothing, exits 1 when a committed file is stale.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARD_DIR, renderDashboards } from './render.ts';

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, text] of renderDashboards()) {
  const path = join(DASHBOARD_DIR, file);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
  if (current === text) continue;
  if (check) {
    console.error(`stale: ${path} (run npm run dashboards)`);
    stale++;
  } else {
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
if (stale > 0) process.exit(1);
