import { randomBytes } from "node:crypto";
import pg from "pg";
import { RehearsalError } from "./errors";

/**
 * The rehearsal never touches the project's data: it creates `billing_rehearsal_<random>` on
 * the same server as the project database (DATABASE_URL, or the embedded one) and drops it
 * afterwards.
 */

export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function onServer<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, application_name: "npm run rehearse" });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The same server and credentials as `serverUrl`, another database. */
export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

export async function createScratchDatabase(serverUrl: string): Promise<ScratchDatabase> {
  const name = `billing_rehearsal_${randomBytes(6).toString("hex")}`;
  try {
    await onServer(serverUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RehearsalError(
      `could not create the scratch database ${name} on ${new URL(serverUrl).host} (${reason}); the rehearsal never runs on ` +
        "the project's own data: give the role CREATEDB, or point DATABASE_URL at a server where it may create databases",
    );
  }
  let dropped = false;
  return {
    name,
    url: withDatabase(serverUrl, name),
    async drop() {
      if (dropped) return;
      await dropDatabase(serverUrl, name);
      dropped = true;
    },
  };
}

/**
 * DROP DATABASE, waiting a little for connections that were closed a moment ago and are
 * still going away (pg's pool.end() resolves before the server has seen every client go),
 * rather than killing them; then FORCE (PostgreSQL 13+) ends whatever is left (e.g. a
 * traffic worker killed mid-transaction).
 */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, async (c) => {
    const sql = `DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)}`;
    for (let attempt = 0; attempt < 20; attempt++) {
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
