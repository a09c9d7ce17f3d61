/**
 * `npm run db:init`: inserts the catalog models and orchestrator settings that are missing (rows
 * and values already there are left alone, whoever changed them) and prints the table, like the seed's initialize-orchestrator-config script.
 */
import { readDatabaseSchema, readDatabaseUrl } from '../shared/config.ts';
import { coerceError } from '../shared/errors.ts';
import { connectDatabase } from './client.ts';
import { unavailableMessage } from '../shared/settings.ts';
import { SettingsStore } from './settings-store.ts';

const handle = connectDatabase(readDatabaseUrl(process.env), { maxConnections: 2, schemaName: readDatabaseSchema(process.env) });
try {
  const store = new SettingsStore(handle.db);
  const models = await store.catalog.initDefaults();
  console.log(models.length > 0 ? `inserted catalog models: ${models.join(', ')}` : 'every default catalog model already present; nothing changed');
  const inserted = await store.initDefaults();
  const rows = await store.rows();
  console.log(inserted.length > 0 ? `inserted defaults: ${inserted.join(', ')}` : 'all orchestrator settings already present; nothing changed');
  console.table(rows.map((r) => ({ key: r.key, value: JSON.stringify(r.value), category: r.category, description: r.description, updated_by: r.updatedBy })));
  try {
    const s = await store.read();
    console.log(`in force: primary=${s.primaryModel} fallback=${s.fallbackModel} enable_fallback=${s.enableFallback}`);
    for (const m of [s.primary, s.fallback]) {
      const problem = unavailableMessage(m === s.primary ? 'primary' : 'fallback', m, s.catalog, new Date());
      if (problem) console.error(`WARNING: ${problem}: requests to it fail and hand over; change the setting in the admin console`);
    }
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
