import { randomBytes } from "node:crypto";

import pg from "pg";

/**
 * Whole databases on a server, for the tools that make their own (tests, the rehearsal, the
 * bench, the e2e server): another database's URL, a one-off client, and scratch databases
 * with a random name, so concurrent runs on one server never meet.
 */

/** The same server and credentials as `serverUrl`, another database. */
export function databaseOn(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** One client for `work`, closed afterwards (CREATE/DROP DATABASE cannot run in a pool's transaction). */
export async function withOneClient<T>(url: string, applicationName: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * DROP DATABASE. `politely`: first wait a little for connections that were closed a moment
 * ago and are still going away (pg's pool.end() resolves before the server has seen every
 * client go) rather than killing them; in any case FORCE (PostgreSQL 13+) then ends whatever
 * is left (e.g. a worker killed mid-transaction).
 */
export async function dropDatabase(
  serverUrl: string,
  name: string,
  options: { applicationName: string; politely?: boolean },
): Promise<void> {
  await withOneClient(serverUrl, options.applicationName, async (c) => {
    const sql = `DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)}`;
    for (let attempt = 0; options.politely && attempt < 20; attempt++) {
      try {
        await c.query(sql);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== "55006") throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await c.query(`${sql} WITH (FORCE)`);
  });
}

export interface ScratchDatabase {
  name: string;
  url: string;
  /** Drops it (once; later calls do nothing). */
  drop(): Promise<void>;
}

/** `<prefix>_<random>` on the server, empty; `drop` as `dropDatabase` with the same options. */
export async function createScratchDatabase(
  serverUrl: string,
  options: { prefix: string; applicationName: string; politely?: boolean },
): Promise<ScratchDatabase> {
  const name = `${options.prefix}_${randomBytes(6).toString("hex")}`;
  await withOneClient(serverUrl, options.applicationName, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  let dropped = false;
  return {
    name,
    url: databaseOn(serverUrl, name),
    async drop() {
      if (dropped) return;
      await dropDatabase(serverUrl, name, options);
      dropped = true;
    },
  };
}
