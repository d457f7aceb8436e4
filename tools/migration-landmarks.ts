import { MigrationError, readMigrations } from "@/server/db/migrator";

/**
 * The migrations a rehearsal (and the tests that need the legacy column) stop at. The
 * names are looked up in prisma/migrations, so a migration added in between is picked up
 * and a renamed one fails loudly instead of silently rehearsing the wrong state.
 */

/** The host application's tables as they were before billing (with organizations.usage). */
export const HOST_TABLES_MIGRATION = "20261124000000_host_app_tables";

/** Step 6, the cleanup: drops organizations.usage. The last migration. */
export const CLEANUP_MIGRATION = "20261124000900_drop_legacy_usage_column";

/**
 * How the cleanup's own guard refuses to run (its migration.sql): on a database with
 * organizations, until the newest whole-database `npm run backfill -- --verify` passed.
 */
export const CLEANUP_REFUSAL = /Refusing to drop organizations\.usage: /;

/** The migration applied just before `name`: `migrate --to` it to stop short of `name`. */
export async function migrationBefore(name: string): Promise<string> {
  const names = (await readMigrations()).map((m) => m.name);
  const index = names.indexOf(name);
  if (index < 1) throw new MigrationError(`no migration comes before "${name}" in prisma/migrations`);
  return names[index - 1] as string;
}

/** Fails unless both names exist and the cleanup is the last migration. */
export async function checkRehearsalMigrations(): Promise<void> {
  const names = (await readMigrations()).map((m) => m.name);
  for (const name of [HOST_TABLES_MIGRATION, CLEANUP_MIGRATION]) {
    if (!names.includes(name)) throw new MigrationError(`prisma/migrations has no migration named "${name}"`);
  }
  if (names.at(-1) !== CLEANUP_MIGRATION) {
    throw new MigrationError(`the cleanup ${CLEANUP_MIGRATION} must be the last migration, but ${names.at(-1)} comes after it`);
  }
}
