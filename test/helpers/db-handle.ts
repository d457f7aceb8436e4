import type { DatabaseHandle } from "@/server/db/client";

/**
 * The test file's database handle, kept apart from test/helpers/db.ts so the per-file
 * teardown (test/setup/worker.ts) can close it without loading Prisma into unit tests
 * that never touch the database.
 */
export const current: { handle?: DatabaseHandle } = {};

export async function closeTestDatabase(): Promise<void> {
  const closing = current.handle;
  current.handle = undefined;
  await closing?.close();
}
