import type pg from "pg";

import { createScratchDatabase as createOnServer, withOneClient, type ScratchDatabase } from "@/server/db/databases";

/**
 * Scratch databases on the test server: each gets a random name, so concurrent runs and
 * concurrent test files on one server never meet; `drop` removes it even when a test left
 * connections open (WITH (FORCE), PostgreSQL 13+).
 */

export type { ScratchDatabase };

export function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withOneClient(url, "vitest-admin", work);
}

export function createScratchDatabase(adminUrl: string, prefix = "billing_test"): Promise<ScratchDatabase> {
  return createOnServer(adminUrl, { prefix, applicationName: "vitest-admin" });
}

/**
 * Ends a pool before its database is dropped. pg's `pool.end()` resolves as soon as it has
 * asked each client to end, before the sockets are closed; a DROP … WITH (FORCE) that comes
 * first ends such a client with FATAL 57P01, which reaches the pool as an idle client's error
 * and, with no listener, is thrown as an uncaught exception (it failed a CI run, 2026-12-03).
 * From here on that error is expected, so it is ignored; errors before the end are not.
 */
export function endPool(pool: pg.Pool): Promise<void> {
  pool.on("error", () => undefined);
  return pool.end();
}

/** Tables in the database's current schema, sorted. */
export async function tableNames(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  });
}
