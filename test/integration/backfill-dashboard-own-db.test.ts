import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { countMismatches, runBackfill } from "@/server/billing/backfill";
import { BackfillLauncher } from "@/server/billing/backfill/background";
import { cancelRun, startRun } from "@/server/billing/backfill/control";
import { getRun } from "@/server/billing/backfill/dashboard";
import { backfillOverview, measureDrift } from "@/server/billing/backfill/drift";
import { createDatabase, type DatabaseHandle } from "@/server/db/client";
import { migrate } from "@/server/db/migrator";
import { seedDatabase } from "@/server/seed";

import { createScratchDatabase, type ScratchDatabase } from "../helpers/databases";

// A database of this file's own: the Overview's "would --verify pass now?" figure is over
// ALL organizations, and stopping a run before its first batch needs a table lock that other
// test files must not feel.

let scratch: ScratchDatabase;
let db: DatabaseHandle;

beforeAll(async () => {
  scratch = await createScratchDatabase(inject("adminUrl"), "billing_backfill_drift");
  await migrate(scratch.url);
  db = createDatabase(scratch.url, { max: 8, applicationName: "vitest-backfill-drift" });
  await seedDatabase(db.pool, { orgs: 30, seed: 11, legacyOnly: true });
});

afterAll(async () => {
  await db?.close();
  await scratch?.drop();
});

describe("the drift figure (cache vs SUM(ledger) vs old count, all organizations)", () => {
  it("equals what --verify counts, before and after an apply, and sees one member added without counting", async () => {
    const before = await measureDrift(db.prisma);
    expect(before).toMatchObject({ measured: true, pairs: 90 });
    if (!before.measured) throw new Error("unreachable");
    expect(before.mismatches).toBeGreaterThan(30);
    expect(before.mismatches).toBe(await countMismatches(db.pool, null));

    await runBackfill(db.pool, { mode: "apply", startedBy: "test" });
    expect(await measureDrift(db.prisma)).toMatchObject({ measured: true, mismatches: 0, pairs: 90 });

    const { rows } = await db.pool.query<{ id: string }>(`SELECT id::text FROM organizations ORDER BY slug LIMIT 1`);
    await db.pool.query(`INSERT INTO members (org_id, email, name) VALUES ($1::uuid, 'uncounted@example.com', 'Not counted')`, [
      rows[0]?.id,
    ]);
    expect(await measureDrift(db.prisma)).toMatchObject({ measured: true, mismatches: 1 });
    expect(await countMismatches(db.pool, null)).toBe(1);
  });

  it("says it could not measure (instead of holding the page) when the scan outlasts its time limit", async () => {
    // A table the scan reads is locked, so the statement waits until its timeout.
    const holder = new pg.Client({ connectionString: scratch.url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE stored_files IN ACCESS EXCLUSIVE MODE");
      const started = performance.now();
      expect(await measureDrift(db.prisma, { timeoutMs: 200 })).toMatchObject({ measured: false, timeoutMs: 200 });
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await holder.query("ROLLBACK");
      await holder.end();
    }
  });
});

describe("the Overview card's data", () => {
  it("shows the newest run and the newest whole-database verification beside the drift now", async () => {
    const launcher = new BackfillLauncher((max) => createDatabase(scratch.url, { max, applicationName: "vitest-launcher" }));
    const dry = await startRun(db.prisma, { mode: "dry_run" }, "staff:overview@staff.test", launcher);
    expect((await launcher.settled(dry.id))?.status).toBe("completed");

    const overview = await backfillOverview(db.prisma);
    expect(overview.lastRun).toMatchObject({ id: dry.id, mode: "dry_run", state: "completed", orgsScanned: 30 });
    // The apply of the first test verified the whole database on its way out.
    expect(overview.lastVerified).toMatchObject({ mode: "apply", status: "completed", orgPrefix: null });
    expect(overview.drift).toMatchObject({ measured: true, mismatches: 1 });
  });
});

/**
 * Holds `organizations` locked (ACCESS EXCLUSIVE) while `work` runs, so a run started inside
 * waits before its first batch (it counts its scope first). `work` gets `waitUntilBlocked()`
 * (someone is waiting on the lock) and `release()`; the lock is released at the end anyway.
 */
async function holdingOrganizations(
  work: (lock: { waitUntilBlocked(): Promise<void>; release(): Promise<void> }) => Promise<void>,
): Promise<void> {
  const holder = new pg.Client({ connectionString: scratch.url });
  await holder.connect();
  let locked = true;
  const release = async () => {
    if (!locked) return;
    locked = false;
    await holder.query("ROLLBACK");
  };
  try {
    await holder.query("BEGIN");
    await holder.query("LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE");
    const pid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    const waitUntilBlocked = async () => {
      await expect
        .poll(async () => (await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid])).rowCount, {
          timeout: 10_000,
        })
        .toBeGreaterThan(0);
    };
    await work({ waitUntilBlocked, release });
  } finally {
    await release();
    await holder.end();
  }
}

describe("cancelling a run that has not started its first batch", () => {
  it("stops it before any batch (this process's launcher: also through its abort signal)", async () => {
    const launcher = new BackfillLauncher((max) => createDatabase(scratch.url, { max, applicationName: "vitest-launcher" }));
    // The runner counts its scope (organizations) before its first batch: hold it there.
    await holdingOrganizations(async ({ waitUntilBlocked, release }) => {
      const run = await startRun(db.prisma, { mode: "dry_run", batchSize: 1 }, "staff:early@staff.test", launcher);
      await waitUntilBlocked();
      expect(await cancelRun(db.prisma, run.id, "staff:early@staff.test", launcher)).toMatchObject({ status: "cancelling" });
      await release();
      expect(await launcher.settled(run.id)).toMatchObject({ status: "cancelled", error: null });
      expect(await getRun(db.prisma, run.id, launcher)).toMatchObject({
        status: "cancelled",
        orgsScanned: 0,
        orgsTotal: 30,
        canResume: true,
      });
    });
  });

  it("stops it before any batch when the cancel comes from another server instance (only the `cancelling` status reaches the runner)", async () => {
    const executing = new BackfillLauncher((max) => createDatabase(scratch.url, { max, applicationName: "vitest-launcher-a" }));
    // A second server process: it sees the run live (the start grace / the runner's lock) but
    // has no abort signal of it.
    const other = new BackfillLauncher((max) => createDatabase(scratch.url, { max, applicationName: "vitest-launcher-b" }));
    await holdingOrganizations(async ({ waitUntilBlocked, release }) => {
      const run = await startRun(db.prisma, { mode: "dry_run", batchSize: 1 }, "staff:early@staff.test", executing);
      await waitUntilBlocked();
      expect(other.isRunningHere(run.id)).toBe(false);
      expect(await cancelRun(db.prisma, run.id, "staff:other@staff.test", other)).toMatchObject({
        status: "cancelling",
        state: "cancelling",
      });
      await release();
      // The runner's start no longer overwrites `cancelling` with `running`: it stops before
      // its first batch instead of scanning all 30 organizations.
      expect(await executing.settled(run.id)).toMatchObject({ status: "cancelled", error: null });
      expect(await getRun(db.prisma, run.id, executing)).toMatchObject({
        status: "cancelled",
        orgsScanned: 0,
        orgsTotal: 30,
        canResume: true,
      });
    });
  });
});
