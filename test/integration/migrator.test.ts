import { createHash, randomBytes } from "node:crypto";
import { appendFile, cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import pg from "pg";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";

import { runBackfill } from "@/server/billing/backfill";
import { migrate, MigrationError, MigrationRefused, MIGRATIONS_DIR, readMigrations } from "@/server/db/migrator";
import { seedDatabase, slugPrefix } from "@/server/seed";

import { CLEANUP_MIGRATION, CLEANUP_REFUSAL, migrationBefore } from "../../tools";
import { createScratchDatabase, endPool, tableNames, withClient, type ScratchDatabase } from "../helpers/databases";
import { waitFor } from "../helpers/wait";

// Every test gets its own empty database (dropped afterwards), and a private copy of
// prisma/migrations when it needs to edit or add a file. The cleanup migration's guard is
// tested last, on databases seeded with legacy data and run through the real backfill.

const HOST_TABLES = ["members", "organizations", "stored_files", "subscriptions", "teams"];

let database: ScratchDatabase;
const tempDirs: string[] = [];
const pools: pg.Pool[] = [];

beforeEach(async () => {
  database = await createScratchDatabase(inject("adminUrl"), "billing_migrator");
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map(endPool));
  await database.drop();
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function copyOfMigrations(): Promise<string> {
  const dir = path.join(os.tmpdir(), `billing-migrations-${randomBytes(6).toString("hex")}`);
  tempDirs.push(dir);
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

async function addMigration(dir: string, name: string, sql: string): Promise<void> {
  await mkdir(path.join(dir, name));
  await writeFile(path.join(dir, name, "migration.sql"), sql);
}

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  started_at: Date;
  rolled_back_at: Date | null;
  logs: string | null;
  applied_steps_count: number;
}

async function migrationRows(url: string): Promise<MigrationRow[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<MigrationRow>(`SELECT * FROM "_prisma_migrations" ORDER BY migration_name`);
    return rows;
  });
}

const allNames = async () => (await readMigrations()).map((m) => m.name);

describe("migrate()", () => {
  it("applies each migration exactly once when four runners race", async () => {
    const names = await allNames();
    // Four separate connections (each migrate() opens its own), started together.
    const results = await Promise.all(Array.from({ length: 4 }, () => migrate(database.url)));

    expect(results.flatMap((r) => r.applied).sort()).toEqual(names);
    for (const result of results) {
      expect([...result.applied, ...result.alreadyApplied].sort()).toEqual(names);
      expect(result.pending).toEqual([]);
    }
    const rows = await migrationRows(database.url);
    expect(rows.map((r) => r.migration_name)).toEqual(names);
  });

  it("records migrations exactly as `prisma migrate deploy` does", async () => {
    await migrate(database.url);
    const rows = await migrationRows(database.url);
    const names = await allNames();
    expect(rows).toHaveLength(names.length);
    for (const row of rows) {
      const file = await readFile(path.join(MIGRATIONS_DIR, row.migration_name, "migration.sql"));
      expect(row.checksum).toBe(createHash("sha256").update(file).digest("hex"));
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it("is a no-op when everything is applied", async () => {
    await migrate(database.url);
    const again = await migrate(database.url);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual(await allNames());
  });

  it("refuses a migration edited after it was applied, and changes nothing", async () => {
    const dir = await copyOfMigrations();
    await migrate(database.url, { dir });
    const [first] = await readMigrations(dir);
    await appendFile(path.join(dir, first!.name, "migration.sql"), "\n-- an afterthought\n");
    // A pending migration too: it must not be applied either.
    await addMigration(dir, "99990101000000_canary", `CREATE TABLE "drift_canary" ("id" integer);`);
    const rowsBefore = await migrationRows(database.url);
    const tablesBefore = await tableNames(database.url);

    const run = migrate(database.url, { dir });
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(run).rejects.toThrow(new RegExp(`${first!.name} was edited`));

    expect(await migrationRows(database.url)).toEqual(rowsBefore);
    expect(await tableNames(database.url)).toEqual(tablesBefore);
  });

  it("stops after the migration named by `to`, and a later run applies the rest", async () => {
    const names = await allNames();
    const [first, ...rest] = names;
    const partial = await migrate(database.url, { to: first });
    expect(partial).toEqual({ applied: [first], alreadyApplied: [], pending: rest });
    expect(await tableNames(database.url)).toEqual(["_prisma_migrations", ...HOST_TABLES].sort());

    const remainder = await migrate(database.url);
    expect(remainder).toEqual({ applied: rest, alreadyApplied: [first], pending: [] });
    expect(await tableNames(database.url)).toEqual(expect.arrayContaining(["usage_ledger", "usage_cache"]));
    expect((await migrationRows(database.url)).map((r) => r.migration_name)).toEqual(names);
  });

  it("refuses an unknown `to` name before touching the database", async () => {
    await expect(migrate(database.url, { to: "20990101000000_nope" })).rejects.toThrow(/no migration named "20990101000000_nope"/);
    expect(await tableNames(database.url)).toEqual([]);
  });

  it("rolls a failing migration back completely and records nothing", async () => {
    const dir = await copyOfMigrations();
    const broken = "99990101000000_broken";
    await addMigration(
      dir,
      broken,
      `CREATE TABLE "half_done" ("id" integer);
       ALTER TABLE "organizations" ADD COLUMN "half_done" integer;
       SELECT * FROM "no_such_table";`,
    );

    const run = migrate(database.url, { dir });
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(run).rejects.toThrow(new RegExp(`${broken} failed and was rolled back: .*no_such_table`));

    // The earlier migrations ran in their own transactions and stay applied.
    const rows = await migrationRows(database.url);
    expect(rows.map((r) => r.migration_name)).toEqual(await allNames());
    expect(await tableNames(database.url)).not.toContain("half_done");
    const columns = await withClient(database.url, (client) =>
      client.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'organizations' AND column_name = 'half_done'`),
    );
    expect(columns.rowCount).toBe(0);

    // Nothing half-recorded blocks the fixed migration.
    await writeFile(path.join(dir, broken, "migration.sql"), `CREATE TABLE "half_done" ("id" integer);`);
    expect((await migrate(database.url, { dir })).applied).toEqual([broken]);
  });
});

describe("the cleanup migration's guard (Step 6 drops organizations.usage)", () => {
  const columnExists = (url: string) =>
    withClient(url, async (client) => {
      const { rowCount } = await client.query(
        `SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'organizations' AND column_name = 'usage'`,
      );
      return rowCount === 1;
    });

  /** A host database at Phase A (everything but the cleanup) with legacy data nobody counted yet. */
  async function legacyDatabase(): Promise<pg.Pool> {
    await migrate(database.url, { to: await migrationBefore(CLEANUP_MIGRATION) });
    const pool = new pg.Pool({ connectionString: database.url, max: 6 });
    pools.push(pool);
    await seedDatabase(pool, { orgs: 12, seed: 5, legacyOnly: true });
    return pool;
  }

  /** Migrating to the latest is refused with one line; the column stays and nothing is recorded. */
  async function expectRefused(reason: RegExp): Promise<void> {
    const rowsBefore = await migrationRows(database.url);
    const error = await migrate(database.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    const message = (error as MigrationError).message;
    expect(message).not.toContain("\n");
    expect(message).toMatch(new RegExp(`^Migration ${CLEANUP_MIGRATION} failed and was rolled back: ${CLEANUP_REFUSAL.source}`));
    expect(message).toMatch(reason);
    expect(await columnExists(database.url)).toBe(true);
    expect(await migrationRows(database.url)).toEqual(rowsBefore);
    expect(rowsBefore.map((r) => r.migration_name)).not.toContain(CLEANUP_MIGRATION);
    expect(error).toBeInstanceOf(MigrationRefused);
    // What `npm start` does: stop there without an error, serve, and say why.
    const stopped = await migrate(database.url, { stopAtRefusal: true });
    expect(stopped).toMatchObject({ applied: [], pending: [CLEANUP_MIGRATION], refused: { name: CLEANUP_MIGRATION } });
    expect(stopped.refused?.reason).toMatch(reason);
    expect(await migrationRows(database.url)).toEqual(rowsBefore);
  }

  const NOT_YET =
    /: no whole-database `npm run backfill -- --verify` has passed yet\. Follow the migration runbook \(migrate with --to 20261124000700_usage_report_outbox until then\)\.$/;
  const differing = (mode: string, runId: string, pairs: number) =>
    new RegExp(`: the newest whole-database verification \\(${mode} run ${runId}\\) left ${pairs} \\(org, metric\\) pairs differing; `);

  it("refuses on a database with organizations until a whole-database verify passed; a failed, scoped or unmeasured one does not unlock it", async () => {
    const pool = await legacyDatabase();
    await expectRefused(NOT_YET);

    // A dry run measures nothing it could pass.
    await runBackfill(pool, { mode: "dry_run", startedBy: "test" });
    await expectRefused(NOT_YET);

    // Nothing is on the ledger yet: the verify completes, with mismatches.
    const failing = await runBackfill(pool, { mode: "verify", startedBy: "test" });
    expect(failing.status).toBe("completed");
    expect(failing.remaining).toBeGreaterThan(0);
    await expectRefused(differing("verify", failing.runId, failing.remaining!));

    // An apply that skipped its closing verification proves nothing (remaining not measured)…
    expect(await runBackfill(pool, { mode: "apply", verifyAfterApply: false, startedBy: "test" })).toMatchObject({
      status: "completed",
      remaining: null,
    });
    await expectRefused(differing("verify", failing.runId, failing.remaining!));
    // …nor does a verify that passed over some organizations only.
    expect(await runBackfill(pool, { mode: "verify", orgPrefix: slugPrefix(5), startedBy: "test" })).toMatchObject({
      status: "completed",
      remaining: 0,
    });
    await expectRefused(differing("verify", failing.runId, failing.remaining!));

    const passing = await runBackfill(pool, { mode: "verify", startedBy: "test" });
    expect(passing).toMatchObject({ status: "completed", orgsScanned: 12, remaining: 0 });
    expect(await migrate(database.url)).toMatchObject({ applied: [CLEANUP_MIGRATION], pending: [] });
    expect(await columnExists(database.url)).toBe(false);
    expect((await migrationRows(database.url)).find((r) => r.migration_name === CLEANUP_MIGRATION)?.finished_at).toBeInstanceOf(Date);
  });

  it("goes by the newest whole-database verification: a later failing verify locks it again, an apply whose closing verification passed unlocks it", async () => {
    const pool = await legacyDatabase();
    // The apply verifies the whole database on its way out: that alone would do…
    const apply = await runBackfill(pool, { mode: "apply", startedBy: "test" });
    expect(apply).toMatchObject({ status: "completed", remaining: 0 });
    // …but a member added without counting since then makes the newest verify fail.
    await pool.query(
      `INSERT INTO members (org_id, email, name) SELECT id, 'uncounted@example.com', 'Not counted' FROM organizations ORDER BY id LIMIT 1`,
    );
    const failing = await runBackfill(pool, { mode: "verify", startedBy: "test" });
    expect(failing).toMatchObject({ status: "completed", remaining: 1 });
    await expectRefused(differing("verify", failing.runId, 1));

    const again = await runBackfill(pool, { mode: "apply", startedBy: "test" });
    expect(again).toMatchObject({ status: "completed", deltasApplied: 1, remaining: 0 });
    expect((await migrate(database.url)).applied).toEqual([CLEANUP_MIGRATION]);
    expect(await columnExists(database.url)).toBe(false);
  });

  it("gives up after its 5 s lock_timeout instead of queuing behind a long transaction, and records nothing", async () => {
    await migrate(database.url, { to: await migrationBefore(CLEANUP_MIGRATION) });
    // A fresh install (no organizations) passes the guard; a transaction reading
    // organizations holds the lock the ALTER needs.
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT count(*) FROM organizations");
      const holderPid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      const migrating = migrate(database.url).catch((e: unknown) => e);
      // The migrator queues for the ALTER's lock on organizations behind the holder — seen in
      // pg_locks, not inferred from a duration.
      const waiting = await withClient(database.url, (client) =>
        waitFor("the migrator to wait for organizations' lock", async () => {
          const { rows } = await client.query<{ mode: string; blockers: number[]; waitstart: Date }>(
            `SELECT l.mode, pg_blocking_pids(l.pid) AS blockers, l.waitstart
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE NOT l.granted AND l.relation = 'organizations'::regclass AND a.application_name = 'billing-migrator'`,
          );
          // waitstart can be null for a moment after the wait began.
          return rows[0]?.waitstart ? rows[0] : undefined;
        }),
      );
      expect(waiting).toMatchObject({ mode: "AccessExclusiveLock", blockers: [holderPid] });
      // It gives up on its own: the holder is still open when the migration fails.
      const error = await migrating;
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as MigrationError).message).toBe(
        `Migration ${CLEANUP_MIGRATION} failed and was rolled back: canceling statement due to lock timeout`,
      );
      // After the 5 s lock_timeout, not sooner: measured on the server from when the wait began
      // (a lower bound, which load cannot break; no upper bound, which load can).
      const { rows } = await holder.query<{ waited: number }>(
        `SELECT extract(epoch FROM clock_timestamp() - $1::timestamptz)::float8 AS waited`,
        [waiting.waitstart],
      );
      expect(rows[0]?.waited).toBeGreaterThanOrEqual(4.9);
    } finally {
      await holder.query("ROLLBACK");
      await holder.end();
    }
    expect(await columnExists(database.url)).toBe(true);
    expect((await migrationRows(database.url)).map((r) => r.migration_name)).not.toContain(CLEANUP_MIGRATION);
    // On the empty database nothing else stands in its way.
    expect((await migrate(database.url)).applied).toEqual([CLEANUP_MIGRATION]);
    // Two whole migrations and the 5 s wait: generous for a loaded machine (a bound on failure only).
  }, 120_000);
});
