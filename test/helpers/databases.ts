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
