import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";

import pg from "pg";

import { EmbeddedDatabaseError, startCluster, SUPERUSER, urlFor, type Credentials, type StartedServer } from "./cluster";
import { CREDENTIALS_FILE, DATA_ROOT, PG_DIR } from "./data-dir";
import { readOwner, removeOwner, runningPostmaster, stopPostmaster, writeOwner } from "./ownership";

/**
 * The project's database, acquired and released: DATABASE_URL when set, else the embedded
 * server in `.data` (`npm start` owns it for its lifetime; a script such as seed, migrate or
 * backfill connects to the running one, or starts it for its own run and stops it afterwards).
 */

const DATABASE = "billing";

export interface ProjectDatabase {
  url: string;
  /** True when this process started the server (and so stops it in `release`). */
  started: boolean;
  release(): Promise<void>;
}

async function loadOrCreateCredentials(): Promise<Credentials> {
  if (existsSync(CREDENTIALS_FILE())) {
    return JSON.parse(await readFile(CREDENTIALS_FILE(), "utf8")) as Credentials;
  }
  const credentials = { user: SUPERUSER, password: randomBytes(18).toString("base64url"), database: DATABASE };
  await mkdir(DATA_ROOT, { recursive: true });
  await writeFile(CREDENTIALS_FILE(), JSON.stringify(credentials, null, 2), { mode: 0o600 });
  return credentials;
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/**
 * The project's database: DATABASE_URL when set; else the embedded server in `.data`,
 * connecting to it when it runs, starting it (and owning it until `release`) when not.
 * `exclusive` (for `npm start`) refuses when another live process owns the server.
 */
export async function acquireProjectDatabase(options: {
  databaseUrl?: string;
  command: string;
  exclusive?: boolean;
}): Promise<ProjectDatabase> {
  if (options.databaseUrl) {
    return { url: options.databaseUrl, started: false, release: async () => {} };
  }
  const credentials = await loadOrCreateCredentials();
  const owner = await readOwner();
  if (options.exclusive && owner && owner.pid !== process.pid) {
    throw new EmbeddedDatabaseError(
      `The embedded database in ${PG_DIR()} is in use by \`${owner.command}\` (pid ${owner.pid}). ` +
        "Stop that process first, or set DATABASE_URL to use another server.",
    );
  }
  const running = await runningPostmaster(PG_DIR());
  if (running) {
    if (owner || !options.exclusive) {
      return { url: urlFor(credentials, running.port), started: false, release: async () => {} };
    }
    // A server left behind by a process that died: adopt it, and stop it when we stop.
    await writeOwner(options.command);
    return {
      url: urlFor(credentials, running.port),
      started: true,
      release: async () => {
        await stopPostmaster(running.pid);
        await removeOwner();
      },
    };
  }
  await mkdir(DATA_ROOT, { recursive: true });
  await writeOwner(options.command);
  let server: StartedServer;
  try {
    server = await startCluster({ dataDir: PG_DIR(), credentials, persistent: true });
  } catch (error) {
    await removeOwner();
    if (await runningPostmaster(PG_DIR())) {
      throw new EmbeddedDatabaseError(
        `Another process started the embedded database in ${PG_DIR()} at the same time; run the command again.`,
      );
    }
    throw error;
  }
  await ensureDatabase(server.adminUrl, credentials.database);
  return {
    url: server.url,
    started: true,
    release: async () => {
      await server.stop();
      await removeOwner();
    },
  };
}
