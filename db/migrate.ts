/** Applies the committed Drizzle migrations, under an advisory lock so concurrent starts are safe. */
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import type { DbHandle } from './client.ts';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));
const LOCK_ID = 7_314_201_1;

export async function migrateDatabase(handle: DbHandle): Promise<void> {
  const schemaName = handle.schemaName ?? 'public';
  await handle.sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK_ID})`;
    await tx.unsafe(`create schema if not exists "${schemaName.replace(/"/g, '""')}"`);
  });
  const reserved = await handle.sql.reserve();
  try {
    await reserved`select pg_advisory_lock(${LOCK_ID})`;
    await migrate(handle.db, { migrationsFolder: MIGRATIONS_FOLDER, migrationsSchema: schemaName, migrationsTable: '__drizzle_migrations' });
  } finally {
    await reserved`select pg_advisory_unlock(${LOCK_ID})`;
    reserved.release();
  }
}
