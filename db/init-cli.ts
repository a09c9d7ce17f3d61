/**
 * `npm run db:init`: inserts the orchestrator settings that are missing (values already set are
 * left alone) and prints the table, like the seed's initialize-orchestrator-config script.
 */
import { readDatabaseSchema, readDatabaseUrl } from '../shared/config.js';
import { coerceError } from '../shared/errors.js';
import { connectDatabase } from './client.js';
import { SettingsStore } from './settings-store.js';

const handle = connectDatabase(readDatabaseUrl(process.env), { maxConnections: 2, schemaName: readDatabaseSchema(process.env) });
try {
  const store = new SettingsStore(handle.db);
  const inserted = await store.initDefaults();
  const rows = await store.rows();
  console.log(inserted.length > 0 ? `inserted defaults: ${inserted.join(', ')}` : 'all orchestrator settings already present; nothing changed');
  console.table(rows.map((r) => ({ key: r.key, value: JSON.stringify(r.value), category: r.category, description: r.description, updated_by: r.updatedBy })));
  try {
    const s = await store.read();
    console.log(`in force: primary=${s.primaryModel} fallback=${s.fallbackModel} enable_fallback=${s.enableFallback}`);
  } catch (err) {
    console.error(`WARNING: stored settings are invalid: ${coerceError(err).message}`);
    process.exitCode = 2;
  }
} catch (err) {
  console.error(`db:init failed: ${coerceError(err).message} (did you run npm run db:migrate?)`);
  process.exitCode = 1;
} finally {
  await handle.close();
}
