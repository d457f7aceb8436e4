import { randomBytes } from "node:crypto";

import { startCluster, SUPERUSER, type StartedServer } from "./cluster";

/** The throw-away cluster that test runs and benchmarks start instead of touching `.data`. */

/**
 * A throw-away cluster in a temporary directory, deleted on stop: for test runs that must
 * not touch `.data` (Vitest's global setup, the Playwright web server).
 */
export async function startTemporaryCluster(dataDir: string): Promise<StartedServer> {
  const credentials = { user: SUPERUSER, password: randomBytes(12).toString("base64url"), database: "postgres" };
  // Its data is thrown away, so durability is worth nothing here: skip the fsyncs.
  const fast = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];
  return startCluster({ dataDir, credentials, persistent: false, extraFlags: fast });
}
