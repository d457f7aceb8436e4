import { randomInt } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import {
  classify,
  CSV_COLUMNS,
  legacyColumnExists,
  measureOrgs,
  requestCancel,
  runBackfill,
  runIsExecuting,
  type MetricState,
} from "@/server/billing/backfill";
import { csvLine } from "@/server/billing/csv";
import { createDatabase } from "@/server/db/client";
import { migrate } from "@/server/db/migrator";
import { seedDatabase, slugPrefix } from "@/server/seed";

import { CLEANUP_MIGRATION, migrationBefore } from "../../tools";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/databases";

// Every run here is scoped with orgPrefix to the orgs of a seed drawn at random for this
// file. The backfill reads the legacy JSONB while organizations.usage exists, so this file
// works on its own database migrated up to just before the cleanup migration (which the
// shared test database has already applied); the last block applies the cleanup itself.

const freshSeed = () => randomInt(1_000, 2 ** 32 - 1);
let legacyDatabase: ScratchDatabase;
let legacyHandle: ReturnType<typeof createDatabase>;
const pool = () => legacyHandle.pool;

beforeAll(async () => {
  legacyDatabase = await createScratchDatabase(inject("adminUrl"), "billing_backfill");
  await migrate(legacyDatabase.url, { to: await migrationBefore(CLEANUP_MIGRATION) });
  legacyHandle = createDatabase(legacyDatabase.url, { max: 8, applicationName: "vitest-backfill" });
});

afterAll(async () => {
  await legacyHandle?.close();
  await legacyDatabase?.drop();
});

interface Truth {
  org_id: string;
  metric: string;
  old_count: string;
  cache: string | null;
  ledger: string;
  migration_rows: number;
}

/** Per (org, gauge) of the prefix: the old count, the cache and SUM(ledger), the slow way. */
async function truth(db: pg.Pool, prefix: string): Promise<Truth[]> {
  const { rows } = await db.query<Truth>(
    `SELECT o.id::text AS org_id, m.metric,
       (CASE m.metric WHEN 'members' THEN (SELECT count(*) FROM members WHERE org_id = o.id)
                      WHEN 'teams' THEN (SELECT count(*) FROM teams WHERE org_id = o.id)
                      ELSE (SELECT COALESCE(sum(size_bytes), 0) FROM stored_files WHERE org_id = o.id) END)::text AS old_count,
       (SELECT count::text FROM usage_cache WHERE org_id = o.id AND metric = m.metric) AS cache,
       (SELECT COALESCE(sum(delta), 0)::text FROM usage_ledger WHERE org_id = o.id AND metric = m.metric) AS ledger,
       (SELECT count(*)::int FROM usage_ledger WHERE org_id = o.id AND metric = m.metric AND reason = 'migration') AS migration_rows
     FROM organizations o CROSS JOIN unnest(ARRAY['members', 'teams', 'storage_bytes']) AS m(metric)
     WHERE o.slug LIKE $1 ORDER BY 1, 2`,
    [`${prefix}%`],
  );
  return rows;
}

async function ledgerRowCount(db: pg.Pool, prefix: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM usage_ledger l JOIN organizations o ON o.id = l.org_id WHERE o.slug LIKE $1`,
    [`${prefix}%`],
  );
  return rows[0]?.n ?? 0;
}

const state = (s: Partial<MetricState>): MetricState => ({
  oldCount: 0n,
  legacyValue: null,
  cache: null,
  ledgerSum: 0n,
  ledgerRows: 0,
  ...s,
});

describe("classify (the comparison)", () => {
  it("names each kind of mismatch and the delta to write", () => {
    expect(classify(state({ oldCount: 5n, legacyValue: 5n, cache: 5n, ledgerSum: 5n, ledgerRows: 1 }), true)).toMatchObject({
      kind: null,
      billingWrong: false,
      delta: 0n,
    });
    expect(classify(state({ oldCount: 5n, legacyValue: 4n, cache: 5n, ledgerSum: 5n, ledgerRows: 1 }), true)).toMatchObject({
      kind: "legacy_wrong",
      billingWrong: false,
    });
    // Without the legacy column a legacy value cannot be wrong.
    expect(classify(state({ oldCount: 5n, cache: 5n, ledgerSum: 5n, ledgerRows: 1 }), false).kind).toBeNull();
    expect(classify(state({ oldCount: 5n, legacyValue: 5n }), true)).toMatchObject({ kind: "ledger_missing", delta: 5n });
    expect(classify(state({ oldCount: 5n, legacyValue: 5n, cache: 7n, ledgerSum: 7n, ledgerRows: 2 }), true)).toMatchObject({
      kind: "ledger_wrong",
      delta: -2n,
    });
    expect(classify(state({ oldCount: 5n, legacyValue: 5n, cache: 9n, ledgerSum: 5n, ledgerRows: 1 }), true)).toMatchObject({
      kind: "cache_wrong",
      cacheWrong: true,
      ledgerWrong: false,
      delta: 0n,
    });
    expect(classify(state({ oldCount: 5n, legacyValue: 3n, ledgerSum: 0n }), true)).toMatchObject({
      kind: "both",
      legacyWrong: true,
      ledgerWrong: true,
    });
  });

  it("quotes CSV fields only when needed", () => {
    expect(csvLine(["plain", 'a "b", c', null, true, -5n])).toBe('plain,"a ""b"", c",,true,-5\r\n');
  });
});

describe("backfill over legacy data (dry run, apply, verify)", () => {
  const seed = freshSeed();
  const prefix = slugPrefix(seed);
  const csvPath = path.join(os.tmpdir(), `backfill-test-${seed}.csv`);
  let cacheWrongOrg: string;
  let ledgerWrongOrg: string;

  beforeAll(async () => {
    // Host rows and the legacy JSONB only (about one org in ten has a drifted JSONB value).
    await seedDatabase(pool(), { orgs: 40, seed, legacyOnly: true, batchSize: 10 });
    const { rows } = await pool().query<{ id: string }>(`SELECT id::text FROM organizations WHERE slug LIKE $1 ORDER BY id`, [
      `${prefix}%`,
    ]);
    cacheWrongOrg = rows[3]?.id as string;
    ledgerWrongOrg = rows[7]?.id as string;
    // A cache that disagrees with its own ledger (invariant 1 broken by some old bug) …
    await pool().query(
      `WITH l AS (INSERT INTO usage_ledger (org_id, metric, delta, reason, actor) VALUES ($1::uuid, 'teams', 2, 'team_created', 'test'))
       INSERT INTO usage_cache (org_id, metric, count) VALUES ($1::uuid, 'teams', 9)`,
      [cacheWrongOrg],
    );
    // … and a ledger that already counted too many members.
    await pool().query(
      `WITH l AS (INSERT INTO usage_ledger (org_id, metric, delta, reason, actor) VALUES ($1::uuid, 'members', 100000, 'member_added', 'test'))
       INSERT INTO usage_cache (org_id, metric, count) VALUES ($1::uuid, 'members', 100000)`,
      [ledgerWrongOrg],
    );
  });

  afterAll(async () => {
    await rm(csvPath, { force: true });
  });

  it("a dry run writes the diff report (and CSV) and nothing else", async () => {
    const before = await ledgerRowCount(pool(), prefix);
    const result = await runBackfill(pool(), { mode: "dry_run", orgPrefix: prefix, batchSize: 7, csvPath, startedBy: "test" });
    expect(result).toMatchObject({ status: "completed", orgsScanned: 40, orgsTotal: 40, legacyColumn: true, deltasApplied: 0 });
    expect(await ledgerRowCount(pool(), prefix)).toBe(before);

    const diffs = await pool().query<{
      org_id: string;
      metric: string;
      kind: string;
      old_count: string;
      cache_before: string | null;
      ledger_before: string;
    }>(
      `SELECT org_id::text, metric, kind, old_count::text, cache_before::text, ledger_before::text FROM backfill_diffs WHERE run_id = $1`,
      [result.runId],
    );
    const byKey = new Map(diffs.rows.map((d) => [`${d.org_id}|${d.metric}`, d]));
    expect(byKey.get(`${cacheWrongOrg}|teams`)).toMatchObject({ cache_before: "9", ledger_before: "2" });
    expect(["cache_wrong", "both"]).toContain(byKey.get(`${cacheWrongOrg}|teams`)?.kind);
    expect(["ledger_wrong", "both"]).toContain(byKey.get(`${ledgerWrongOrg}|members`)?.kind);
    expect(diffs.rows.filter((d) => d.kind === "ledger_missing").length).toBeGreaterThan(30);
    // Legacy-only rows are in a dry run's report, and counted apart.
    expect(result.legacyMismatches).toBeGreaterThan(0);
    expect(result.mismatches).toBe(diffs.rows.filter((d) => d.kind !== "legacy_wrong").length);

    const csv = (await readFile(csvPath, "utf8")).trimEnd().split("\r\n");
    expect(csv[0]).toBe(CSV_COLUMNS.join(","));
    expect(csv.length - 1).toBe(diffs.rows.length);
    expect(result.csvRows).toBe(diffs.rows.length);
    expect(csv.slice(1).every((line) => line.startsWith(`${result.runId},`) && line.includes(`,${prefix}`))).toBe(true);
  });

  it("a verify of the legacy data fails: nothing is on the ledger yet", async () => {
    const result = await runBackfill(pool(), { mode: "verify", orgPrefix: prefix, startedBy: "test" });
    expect(result.status).toBe("completed");
    expect(result.remaining).toBeGreaterThan(30);
  });

  it("apply makes cache == SUM(ledger) == old count with one migration row per difference", async () => {
    const result = await runBackfill(pool(), { mode: "apply", orgPrefix: prefix, batchSize: 6, concurrency: 3, startedBy: "test" });
    expect(result).toMatchObject({ status: "completed", orgsScanned: 40, remaining: 0, cacheRepairs: 1 });
    const rows = await truth(pool(), prefix);
    for (const row of rows) {
      expect(row.ledger, `${row.org_id} ${row.metric}`).toBe(row.old_count);
      expect(row.cache ?? "0", `${row.org_id} ${row.metric}`).toBe(row.old_count);
      expect(row.migration_rows).toBeLessThanOrEqual(1);
    }
    expect(rows.reduce((n, r) => n + r.migration_rows, 0)).toBe(result.deltasApplied);

    const { rows: migration } = await pool().query<{ reason: string; actor: string; idempotency_key: string; delta: string }>(
      `SELECT reason, actor, idempotency_key, delta::text FROM usage_ledger WHERE org_id = $1::uuid AND metric = 'members' AND reason = 'migration'`,
      [ledgerWrongOrg],
    );
    expect(migration).toHaveLength(1);
    expect(migration[0]).toMatchObject({ actor: `backfill:${result.runId}`, idempotency_key: `backfill:${result.runId}:members` });
    expect(BigInt(migration[0]?.delta as string)).toBeLessThan(0n);

    // The repaired cache: set back to its ledger (2), plus the migration delta.
    const { rows: repaired } = await pool().query<{
      cache_repaired: boolean;
      cache_before: string;
      ledger_before: string;
      delta_applied: string;
      old_count: string;
    }>(
      `SELECT cache_repaired, cache_before::text, ledger_before::text, delta_applied::text, old_count::text FROM backfill_diffs
       WHERE run_id = $1 AND org_id = $2::uuid AND metric = 'teams'`,
      [result.runId, cacheWrongOrg],
    );
    expect(repaired[0]).toMatchObject({ cache_repaired: true, cache_before: "9", ledger_before: "2" });
    expect(BigInt(repaired[0]?.ledger_before as string) + BigInt(repaired[0]?.delta_applied as string)).toBe(
      BigInt(repaired[0]?.old_count as string),
    );

    const { rows: run } = await pool().query(
      `SELECT status, cursor::text, orgs_scanned, deltas_applied, remaining, finished_at FROM backfill_runs WHERE id = $1`,
      [result.runId],
    );
    expect(run[0]).toMatchObject({ status: "completed", orgs_scanned: 40, deltas_applied: result.deltasApplied, remaining: 0 });
    expect(run[0].finished_at).toBeInstanceOf(Date);
  });

  it("a second apply changes nothing, and verify passes", async () => {
    const before = await ledgerRowCount(pool(), prefix);
    const again = await runBackfill(pool(), { mode: "apply", orgPrefix: prefix, startedBy: "test" });
    expect(again).toMatchObject({ status: "completed", mismatches: 0, deltasApplied: 0, cacheRepairs: 0, remaining: 0 });
    expect(await ledgerRowCount(pool(), prefix)).toBe(before);
    const verify = await runBackfill(pool(), { mode: "verify", orgPrefix: prefix, startedBy: "test" });
    expect(verify).toMatchObject({ status: "completed", mismatches: 0, remaining: 0 });
  });

  it("verify finds a member added without counting, and only that", async () => {
    await pool().query(`INSERT INTO members (org_id, email, name) VALUES ($1::uuid, 'uncounted@example.com', 'Uncounted')`, [
      cacheWrongOrg,
    ]);
    const verify = await runBackfill(pool(), { mode: "verify", orgPrefix: prefix, startedBy: "test" });
    expect(verify.remaining).toBe(1);
    const { rows } = await pool().query(`SELECT org_id::text, metric, kind FROM backfill_diffs WHERE run_id = $1`, [verify.runId]);
    expect(rows).toEqual([{ org_id: cacheWrongOrg, metric: "members", kind: "ledger_wrong" }]);
    const fix = await runBackfill(pool(), { mode: "apply", orgPrefix: prefix, startedBy: "test" });
    expect(fix).toMatchObject({ deltasApplied: 1, remaining: 0 });
  });
});

describe("stopping and resuming", () => {
  const seed = freshSeed();
  const prefix = slugPrefix(seed);

  beforeAll(async () => {
    await seedDatabase(pool(), { orgs: 30, seed, legacyOnly: true, batchSize: 10 });
  });

  it("an abort stops after the current batch (cancelled, cursor recorded); --resume finishes the rest", async () => {
    const stop = new AbortController();
    const first = await runBackfill(pool(), {
      mode: "apply",
      orgPrefix: prefix,
      batchSize: 4,
      startedBy: "test",
      signal: stop.signal,
      onProgress: (p) => {
        if (p.orgsDone >= 8) stop.abort();
      },
    });
    expect(first).toMatchObject({ status: "cancelled", orgsScanned: 8, remaining: null });
    const { rows } = await pool().query(`SELECT status, cursor::text FROM backfill_runs WHERE id = $1`, [first.runId]);
    const { rows: ids } = await pool().query<{ id: string }>(`SELECT id::text FROM organizations WHERE slug LIKE $1 ORDER BY id`, [
      `${prefix}%`,
    ]);
    expect(rows[0]).toEqual({ status: "cancelled", cursor: ids[7]?.id });
    // Orgs after the cursor are untouched.
    const untouched = await pool().query(`SELECT count(*)::int AS n FROM usage_ledger WHERE org_id = ANY($1::uuid[])`, [
      ids.slice(8).map((r) => r.id),
    ]);
    expect(untouched.rows[0].n).toBe(0);

    const rest = await runBackfill(pool(), { mode: "apply", orgPrefix: prefix, resume: true, batchSize: 4, startedBy: "test" });
    expect(rest).toMatchObject({ runId: first.runId, resumed: true, status: "completed", orgsScanned: 30, orgsTotal: 30, remaining: 0 });
    for (const row of await truth(pool(), prefix)) {
      expect(row.cache ?? "0").toBe(row.old_count);
      expect(row.ledger).toBe(row.old_count);
    }
    // Nothing left to resume.
    await expect(runBackfill(pool(), { mode: "apply", orgPrefix: prefix, resume: true })).rejects.toThrow(
      /completed; there is nothing to resume/,
    );
    await expect(runBackfill(pool(), { mode: "dry_run", orgPrefix: `${prefix}nothing-`, resume: true })).rejects.toThrow(/no dry_run run/);
  });
});

describe("cancelling from another process (the dashboard's cancel)", () => {
  it("requestCancel stops a run after its current batch; runIsExecuting tells a live run from a killed one", async () => {
    const seed = freshSeed();
    const prefix = slugPrefix(seed);
    await seedDatabase(pool(), { orgs: 12, seed, legacyOnly: true });
    let runId = "";
    const seen: boolean[] = [];
    const result = await runBackfill(pool(), {
      mode: "dry_run",
      orgPrefix: prefix,
      batchSize: 3,
      startedBy: "test",
      onStart: (info) => (runId = info.runId),
      onProgress: async () => {
        if (seen.length > 0) return;
        seen.push(await runIsExecuting(pool(), runId));
        seen.push(await requestCancel(pool(), runId));
      },
    });
    expect(seen).toEqual([true, true]);
    // Requested after batch 1; seen when batch 2 is recorded.
    expect(result).toMatchObject({ status: "cancelled", orgsScanned: 6 });
    expect(await runIsExecuting(pool(), runId)).toBe(false);
    expect(await requestCancel(pool(), runId)).toBe(false); // not running any more
  });

  it("a recorded run still `cancelling` when it starts stops before any batch; a --resume of one whose process died while stopping continues", async () => {
    const seed = freshSeed();
    const prefix = slugPrefix(seed);
    await seedDatabase(pool(), { orgs: 6, seed, legacyOnly: true });
    const first = await runBackfill(pool(), {
      mode: "dry_run",
      orgPrefix: prefix,
      batchSize: 2,
      startedBy: "test",
      signal: AbortSignal.abort(),
    });
    expect(first).toMatchObject({ status: "cancelled", orgsScanned: 0 });

    // Executed by id (the dashboard's launch) after a stop was requested meanwhile, e.g.
    // from another server instance: the start keeps `cancelling` and no batch runs.
    await pool().query(`UPDATE backfill_runs SET status = 'cancelling' WHERE id = $1::uuid`, [first.runId]);
    const byId = await runBackfill(pool(), { mode: "dry_run", orgPrefix: prefix, runId: first.runId, batchSize: 2, startedBy: "test" });
    expect(byId).toMatchObject({ runId: first.runId, status: "cancelled", orgsScanned: 0, orgsTotal: 6 });

    // `--resume` of a run that already said `cancelling` (its process was killed while
    // stopping): a stale request, so the resume runs it to the end.
    await pool().query(`UPDATE backfill_runs SET status = 'cancelling' WHERE id = $1::uuid`, [first.runId]);
    const resumed = await runBackfill(pool(), { mode: "dry_run", orgPrefix: prefix, resume: true, batchSize: 2, startedBy: "test" });
    expect(resumed).toMatchObject({ runId: first.runId, status: "completed", orgsScanned: 6 });
  });
});

describe("after the cleanup migration drops organizations.usage", () => {
  let scratch: ScratchDatabase;
  let handle: ReturnType<typeof createDatabase>;

  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("adminUrl"), "billing_backfill");
    await migrate(scratch.url, { to: await migrationBefore(CLEANUP_MIGRATION) });
    handle = createDatabase(scratch.url, { max: 6, applicationName: "vitest-backfill" });
    const seeded = await seedDatabase(handle.pool, { orgs: 12, seed: 3, legacyOnly: true });
    expect(seeded.legacyUsage).toBe(true);
    // The runbook up to Step 6: apply, then a whole-database verify that passes (the cleanup
    // migration's own guard refuses to run before one did).
    expect(await runBackfill(handle.pool, { mode: "apply", startedBy: "test" })).toMatchObject({ status: "completed", remaining: 0 });
    expect(await runBackfill(handle.pool, { mode: "verify", startedBy: "test" })).toMatchObject({ status: "completed", remaining: 0 });
    // Step 6 itself: the real cleanup migration.
    expect((await migrate(scratch.url)).applied).toEqual([CLEANUP_MIGRATION]);
    // Host rows that nobody counted, written after the cleanup (a legacy-only seed writes no
    // ledger or cache, and no JSONB once the column is gone): work for the backfill below.
    const later = await seedDatabase(handle.pool, { orgs: 12, seed: 4, legacyOnly: true });
    expect(later).toMatchObject({ legacyUsage: false, ledgerRows: 0 });
  });

  afterAll(async () => {
    await handle?.close();
    await scratch?.drop();
  });

  it("detects the missing column and still backfills and verifies", async () => {
    expect(await legacyColumnExists(handle.pool)).toBe(false);
    expect(await legacyColumnExists(pool())).toBe(true); // this file's database, before the cleanup
    const ids = (await handle.pool.query<{ id: string }>(`SELECT id::text FROM organizations ORDER BY id LIMIT 2`)).rows.map((r) => r.id);
    const [measured] = await measureOrgs(handle.pool, ids, false);
    expect(measured?.metrics.members.legacyValue).toBeNull();

    const apply = await runBackfill(handle.pool, { mode: "apply", startedBy: "test" });
    expect(apply).toMatchObject({ status: "completed", legacyColumn: false, legacyMismatches: 0, orgsScanned: 24, remaining: 0 });
    expect(apply.deltasApplied).toBeGreaterThan(12);
    const verify = await runBackfill(handle.pool, { mode: "verify", startedBy: "test" });
    expect(verify).toMatchObject({ remaining: 0, legacyColumn: false });
  });
});
