/** `npm run db:migrate`: applies the committed migrations to DATABASE_URL. */
import { readDatabaseSchema, readDatabaseUrl } from '../shared/config.ts';
import { ConfigurationError } from '../shared/errors.ts';
import { connectDatabase } from './client.ts';
import { migrateDatabase } from './migrate.ts';

try {
  const handle = connectDatabase(readDatabaseUrl(process.env), { maxConnections: 2, schemaName: readDatabaseSchema(process.env) });
  try {
    await migrateDatabase(handle);
    console.log('migrations applied');
  } finally {
    await handle.close();
  }
} catch (err) {
  console.error(err instanceof ConfigurationError ? `db:migrate: configuration error: ${err.message}` : `db:migrate failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
