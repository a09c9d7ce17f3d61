/** Each test file gets its own Postgres schema, migrated from the committed migrations. */
import { randomBytes } from 'node:crypto';
import { connectDatabase, type DbHandle } from '../../db/client.ts';
import { migrateDatabase } from '../../db/migrate.ts';
import { SettingsStore } from '../../db/settings-store.ts';

export const TEST_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueName(label: string): string {
  return `t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 20)}_${randomBytes(4).toString('hex')}`;
}

export interface TestDatabase extends DbHandle {
  readonly schemaName: string;
  readonly settings: SettingsStore;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const schemaName = uniqueName(label);
  const handle = connectDatabase(TEST_DATABASE_URL, { schemaName, maxConnections: 4 });
  await migrateDatabase(handle);
  const settings = new SettingsStore(handle.db);
  await settings.catalog.initDefaults('test');
  await settings.initDefaults('test');
  return {
    ...handle,
    schemaName,
    settings,
    async drop() {
      await handle.sql.unsafe(`drop schema if exists "${schemaName}" cascade`);
      await handle.close();
    },
  };
}
