import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { createBillingServices, type BillingServices } from "@/server/billing";
import { runBackfill } from "@/server/billing/backfill";
import { archiveLedgerMonth } from "@/server/billing/ledger-archive/archive-month";
import { listLedgerArchives } from "@/server/billing/ledger-archive/archived-list";
import { ensureLedgerMonthsAhead } from "@/server/billing/ledger-archive/months-ahead";
import { CSV_COLUMNS } from "@/server/billing/ledger-export";
import { foldLedger } from "@/server/billing/rollup/fold";
import { checkUsageIntegrity } from "@/server/billing/rollup/integrity";
import { createDatabase, type DatabaseHandle } from "@/server/db/client";
import { migrate } from "@/server/db/migrator";

import { CLI_TIMEOUT_MS, runScript } from "../helpers/cli";
import { createScratchDatabase, type ScratchDatabase } from "../helpers/databases";
import { newOrg, unlimitedOverride } from "../helpers/db";

/**
 * Archiving a month of the partitioned ledger keeps every invariant (ARCHITECTURE.md, "Growth
 * past 100 million ledger rows"): writes across several months under a fixed clock, a fold,
 * the oldest month archived; then the rows are in the file and gone from the table, cache ==
 * SUM(ledger) + the archived sums, the rollups unchanged, `backfill --verify` passes, and an
 * archived key still replays. On a database of its own: the checks are whole-database.
 */

let scratch: ScratchDatabase;
let handle: DatabaseHandle;
let billing: BillingServices;
let now = new Date("2026-06-15T12:00:00Z");
let dir: string;

type Row = Record<string, string>;
const query = async (sql: string, values: unknown[] = []) => (await handle.pool.query<Row>(sql, values)).rows;

beforeAll(async () => {
  scratch = await createScratchDatabase(inject("adminUrl"), "billing_archive");
  await migrate(scratch.url);
  handle = createDatabase(scratch.url, { max: 12, applicationName: "vitest-archive" });
  billing = createBillingServices(handle.prisma, { pool: handle.pool, clock: () => now });
  dir = await mkdtemp(path.join(os.tmpdir(), "ledger-archive-"));
});

afterAll(async () => {
  await handle?.close();
  await scratch?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Folds until the rollups hold every transaction that wrote a ledger row so far (60 s: a loaded shared server). */
async function foldEverything(): Promise<void> {
  const [max] = await query(`SELECT COALESCE(max(tx_id), 0)::text AS tx FROM usage_ledger`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    await foldLedger(handle.prisma);
    const [state] = await query(`SELECT through_tx_id::text AS through FROM usage_rollup_state`);
    if (BigInt(state!.through!) > BigInt(max!.tx!)) return;
    if (Date.now() > deadline) throw new Error(`the fold stayed at ${state!.through}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SUM(ledger) + the archived sums, per (org, metric), against the cache: every pair. */
const CACHE_VERSUS_LEDGER = `
  SELECT org_id::text, metric, c.count::text AS cache, COALESCE(l.total, 0)::text AS ledger FROM usage_cache c
  FULL JOIN (SELECT org_id, metric, SUM(t) AS total FROM (
    SELECT org_id, metric, delta AS t FROM usage_ledger UNION ALL SELECT org_id, metric, total FROM usage_archived_months) x
    GROUP BY org_id, metric) l USING (org_id, metric) ORDER BY 1, 2`;

/** The rollups' per-(org, metric) totals plus the unfolded tail, against a rescan plus the archived sums. */
async function rollupsVersusRescan(): Promise<[Row[], Row[]]> {
  const rollups = await query(`SELECT org_id::text, metric, SUM(total)::text AS total FROM (
      SELECT org_id, metric, total FROM usage_rollup_totals
      UNION ALL SELECT org_id, metric, delta FROM usage_ledger
        WHERE tx_id >= (SELECT through_tx_id FROM usage_rollup_state) OR tx_id IS NULL) x
    GROUP BY org_id, metric ORDER BY 1, 2`);
  const rescan = await query(`SELECT org_id::text, metric, SUM(t)::text AS total FROM (
      SELECT org_id, metric, delta AS t FROM usage_ledger UNION ALL SELECT org_id, metric, total FROM usage_archived_months) x
    GROUP BY org_id, metric ORDER BY 1, 2`);
  return [rollups, rescan];
}

const at = (iso: string) => {
  now = new Date(iso);
};

describe("archiving a month of the partitioned ledger", () => {
  let orgA: string;
  let orgB: string;
  const febKey = "feb-api-call-1";

  beforeAll(async () => {
    orgA = (await newOrg(handle.prisma)).id;
    orgB = (await newOrg(handle.prisma)).id;
    for (const org of [orgA, orgB]) {
      await unlimitedOverride(handle.prisma, org, "api_calls");
      await unlimitedOverride(handle.prisma, org, "api_calls_hourly");
    }
    // March gets its partition now; February's rows go to DEFAULT until the archive gives it one.
    await query(`SELECT usage_ledger_ensure_months('2026-03-15'::timestamptz, 0)`);
    const months = ["2026-02-10T09:00:00Z", "2026-03-11T10:00:00Z", "2026-04-12T11:00:00Z", "2026-06-01T08:00:00Z"];
    for (const [m, iso] of months.entries()) {
      at(iso);
      for (const org of [orgA, orgB]) {
        // A team with its ledger row, so `backfill --verify` (old count = COUNT(teams)) has something to compare.
        await handle.prisma.team.create({ data: { orgId: org, name: `team ${m}`, createdAt: now } });
        await billing.usage.increment(org, "teams", 1n, "team_created", { idempotencyKey: `team-${m}` });
        await billing.entitlements.consume(org, "api.call", { idempotencyKey: m === 0 ? febKey : `api-${m}` });
        await billing.usage.incrementMany(
          [1, 2, 3].map((i) => ({ orgId: org, metric: "exports", amount: BigInt(i), reason: "export", idempotencyKey: `exp-${m}-${i}` })),
        );
      }
    }
    at("2026-06-15T12:00:00Z");
  });

  it("refuses the current month, the previous one and a future one, changing nothing", async () => {
    const before = await query(`SELECT count(*)::text AS n FROM usage_ledger`);
    const refusals = { "2026-06": "month_current", "2026-05": "month_in_open_window", "2026-09": "month_in_future" };
    for (const [month, reason] of Object.entries(refusals)) {
      await expect(archiveLedgerMonth(handle, { month, out: path.join(dir, `${month}.csv`), now })).rejects.toMatchObject({
        code: "PRECONDITION_FAILED",
        reason,
      });
    }
    await expect(archiveLedgerMonth(handle, { month: "2026-05", out: "x", now })).rejects.toThrow(/cannot be archived before 2026-07-01/);
    expect(await query(`SELECT count(*)::text AS n FROM usage_ledger`)).toEqual(before);
    expect(await query(`SELECT * FROM usage_ledger_archives`)).toEqual([]);
    await expect(stat(path.join(dir, "2026-06.csv"))).rejects.toThrow();
  });

  it("refuses a month with a row the rollups cannot hold yet, changing nothing", async () => {
    // A transaction left open holds the fold's bound (pg_snapshot_xmin) below the row written after it.
    const holder = await handle.pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_current_xact_id()");
      at("2026-04-20T10:00:00Z");
      await billing.usage.increment(orgA, "exports", 7n, "export", { idempotencyKey: "apr-late" });
      at("2026-06-15T12:00:00Z");
      const before = await query(`SELECT count(*)::text AS n FROM usage_ledger`);
      await expect(archiveLedgerMonth(handle, { month: "2026-04", out: path.join(dir, "apr.csv"), now })).rejects.toMatchObject({
        reason: "month_not_folded",
      });
      expect(await query(`SELECT count(*)::text AS n FROM usage_ledger`)).toEqual(before);
      expect(await query(`SELECT count(*)::text AS n FROM usage_archived_months`)).toEqual([{ n: "0" }]);
      await expect(stat(path.join(dir, "apr.csv"))).rejects.toThrow();
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
  });

  it("archives the oldest month: rows in the file and gone, cache == ledger + archived, rollups and finance views unchanged, verify passes", async () => {
    await foldEverything();
    const febRows = await query(
      `SELECT id::text, delta::text, idempotency_key FROM usage_ledger WHERE "timestamp" >= '2026-02-01' AND "timestamp" < '2026-03-01' ORDER BY id`,
    );
    expect(febRows.length).toBeGreaterThan(10);
    const dailyBefore = await query(`SELECT * FROM usage_daily ORDER BY org_id, metric, day, reason`);
    const dailyTotalsBefore = await query(`SELECT * FROM usage_daily_totals ORDER BY metric, day, reason`);
    const rollupTotalsBefore = await query(`SELECT * FROM usage_rollup_totals ORDER BY org_id, metric`);

    const dryRun = await archiveLedgerMonth(handle, { month: "2026-02", out: "", dryRun: true, now });
    expect(dryRun).toMatchObject({ status: "dry_run", rows: BigInt(febRows.length), unfolded: 0n });

    const out = path.join(dir, "2026-02.csv");
    const report = await archiveLedgerMonth(handle, { month: "2026-02", out, now });
    expect(report).toMatchObject({ status: "archived", rows: BigInt(febRows.length), file: out });

    // Gone from the table, and the partition with them.
    expect(await query(`SELECT count(*)::text AS n FROM usage_ledger WHERE "timestamp" < '2026-03-01'`)).toEqual([{ n: "0" }]);
    expect(await query(`SELECT to_regclass('ledger_partitions.usage_ledger_2026_02')::text AS t`)).toEqual([{ t: null }]);
    // The file holds exactly them, in the export's columns.
    const records = parse(await readFile(out), { columns: true }) as Row[];
    expect(Object.keys(records[0]!)).toEqual(CSV_COLUMNS);
    const archived = records
      .map((r) => ({ id: r.id!, delta: r.delta!, idempotency_key: r.idempotency_key || null }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(archived).toEqual(febRows);

    // cache == SUM(ledger) + archived, for every (org, metric); the service's check agrees.
    const pairs = await query(CACHE_VERSUS_LEDGER);
    expect(pairs.length).toBeGreaterThan(4);
    for (const pair of pairs) expect(pair.ledger, `${pair.org_id} ${pair.metric}`).toBe(pair.cache);
    expect(await billing.usage.verify()).toEqual([]);
    expect((await checkUsageIntegrity(handle.prisma)).mismatches).toBe(0);
    // The rollups still hold the archived rows: equal to a rescan plus the archived sums, and untouched.
    const [rollups, rescan] = await rollupsVersusRescan();
    expect(rollups).toEqual(rescan);
    expect(await query(`SELECT * FROM usage_daily ORDER BY org_id, metric, day, reason`)).toEqual(dailyBefore);
    expect(await query(`SELECT * FROM usage_daily_totals ORDER BY metric, day, reason`)).toEqual(dailyTotalsBefore);
    expect(await query(`SELECT * FROM usage_rollup_totals ORDER BY org_id, metric`)).toEqual(rollupTotalsBefore);
    // backfill --verify's full rescan: COUNT(teams) == cache == SUM(ledger) + archived.
    const verify = await runBackfill(handle.pool, { mode: "verify", startedBy: "test" });
    expect(verify).toMatchObject({ status: "completed", mismatches: 0, remaining: 0 });

    // The Ledger page's list of archived months names it, its rows and its file.
    const [listed, ...others] = await listLedgerArchives(handle.prisma);
    expect(others).toEqual([]);
    expect(listed).toEqual({
      month: "2026-02",
      rows: BigInt(febRows.length),
      file: out,
      fileSha256: report.status === "archived" ? report.sha256 : "",
      archivedAt: expect.any(Date),
    });
    expect(listed!.fileSha256).toMatch(/^[0-9a-f]{64}$/);

    // A second run reports the month archived and changes nothing.
    await expect(archiveLedgerMonth(handle, { month: "2026-02", out, now })).resolves.toMatchObject({ status: "already_archived" });
  });

  it("a replay of an archived row's key writes nothing and answers as a replay; other work on it is a CONFLICT", async () => {
    const [original] = await query(`SELECT ledger_id::text AS id FROM usage_idempotency_keys WHERE org_id = $1 AND idempotency_key = $2`, [
      orgA,
      febKey,
    ]);
    // Window resets aside (the replay's clock moved api_calls_hourly into a new hour): no row.
    const written = `SELECT count(*)::text AS n FROM usage_ledger WHERE reason <> 'window_reset'`;
    const rows = await query(written);
    const replay = await billing.entitlements.consume(orgA, "api.call", { idempotencyKey: febKey });
    expect(replay).toMatchObject({ allowed: true, replayed: true, entry: { id: original!.id, metric: "api_calls", delta: 1n } });
    const increment = await billing.usage.increment(orgA, "api_calls", 1n, "api_call", { idempotencyKey: febKey });
    expect(increment).toMatchObject({ replayed: true, entry: { id: original!.id } });
    const [batch] = await billing.usage.incrementMany([
      { orgId: orgA, metric: "api_calls", amount: 1n, reason: "api_call", idempotencyKey: febKey },
    ]);
    expect(batch).toMatchObject({ status: "duplicate", entryId: original!.id });
    await expect(billing.usage.increment(orgA, "exports", 2n, "export", { idempotencyKey: febKey })).rejects.toMatchObject({
      reason: "idempotency_key_reused",
    });
    expect(await query(written)).toEqual(rows);
    expect(await billing.usage.verify()).toEqual([]);
  });

  it("a write dated in the archived month after it is gone lands in DEFAULT, and every check still holds", async () => {
    at("2026-02-20T10:00:00Z");
    await billing.usage.increment(orgB, "exports", 4n, "export", { idempotencyKey: "feb-after-archive" });
    at("2026-06-15T12:00:00Z");
    expect(await query(`SELECT tableoid::regclass::text AS part FROM usage_ledger WHERE idempotency_key = 'feb-after-archive'`)).toEqual([
      { part: "ledger_partitions.usage_ledger_default" },
    ]);
    expect(await billing.usage.verify()).toEqual([]);
  });

  it("a row written (and folded) between the file and the drop: refused as a race, nothing changed; the next run takes it", async () => {
    await foldEverything();
    const out = path.join(dir, "2026-04.csv");
    const archive = (afterExport?: () => Promise<void>) => archiveLedgerMonth(handle, { month: "2026-04", out, now, afterExport });
    await expect(
      archive(async () => {
        at("2026-04-25T10:00:00Z");
        await billing.usage.increment(orgB, "exports", 3n, "export", { idempotencyKey: "apr-in-the-gap" });
        at("2026-06-15T12:00:00Z");
        await foldEverything();
      }),
    ).rejects.toMatchObject({ reason: "archive_raced" });
    expect(await query(`SELECT to_regclass('ledger_partitions.usage_ledger_2026_04')::text AS t`)).toEqual([
      { t: "ledger_partitions.usage_ledger_2026_04" },
    ]);
    expect(await query(`SELECT count(*)::text AS n FROM usage_archived_months WHERE month = '2026-04-01'`)).toEqual([{ n: "0" }]);
    expect(await billing.usage.verify()).toEqual([]);

    await expect(archive()).resolves.toMatchObject({ status: "archived" });
    const records = parse(await readFile(out), { columns: true }) as Row[];
    expect(records.some((r) => r.idempotency_key === "apr-in-the-gap")).toBe(true);
    expect(await billing.usage.verify()).toEqual([]);
  });

  it("concurrent writers while a month is archived lose nothing", async () => {
    await foldEverything();
    const writers = 6;
    const perWriter = 40;
    let archived = false;
    let duringArchive = 0;
    const writes = Array.from({ length: writers }, async (_, w) => {
      let applied = 0n;
      for (let i = 0; i < perWriter || !archived; i++) {
        const result = await billing.usage.increment(w % 2 ? orgA : orgB, "exports", 1n, "export", { idempotencyKey: `busy-${w}-${i}` });
        if (!result.replayed) applied += 1n;
        if (!archived) duringArchive += 1;
        if (i > 10_000) break;
      }
      return applied;
    });
    const archive = archiveLedgerMonth(handle, {
      month: "2026-03",
      out: path.join(dir, "2026-03.csv"),
      now,
      lockTimeoutMs: 60_000,
    }).finally(() => {
      archived = true;
    });
    const [report, ...applied] = await Promise.all([archive, ...writes]);
    expect(report).toMatchObject({ status: "archived" });
    expect(duringArchive).toBeGreaterThan(0);
    const told = applied.reduce((a, b) => a + b, 0n);
    const [written] = await query(`SELECT count(*)::text AS n FROM usage_ledger WHERE idempotency_key LIKE 'busy-%'`);
    expect(BigInt(written!.n!)).toBe(told);
    expect(await billing.usage.verify()).toEqual([]);
    const [rollups, rescan] = await rollupsVersusRescan();
    expect(rollups).toEqual(rescan);
  });
});

describe("the ledger's months ahead, kept by a long-lived server", () => {
  const partitions = async (year: number) =>
    (
      await query(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'usage_ledger'::regclass AND c.relname LIKE $1 ORDER BY 1`,
        [`usage_ledger_${year}_%`],
      )
    ).map((r) => r.relname);

  it("creates the month of `now` and the next two once, and says so", async () => {
    expect(await partitions(2041)).toEqual([]);
    expect(await ensureLedgerMonthsAhead(handle.prisma, new Date("2041-03-31T23:59:59Z"))).toBe(3);
    expect(await partitions(2041)).toEqual(["usage_ledger_2041_03", "usage_ledger_2041_04", "usage_ledger_2041_05"]);
    expect(await ensureLedgerMonthsAhead(handle.prisma, new Date("2041-04-01T00:00:00Z"))).toBe(1);
    expect(await partitions(2041)).toEqual([
      "usage_ledger_2041_03",
      "usage_ledger_2041_04",
      "usage_ledger_2041_05",
      "usage_ledger_2041_06",
    ]);
    expect(await ensureLedgerMonthsAhead(handle.prisma, new Date("2041-04-15T00:00:00Z"))).toBe(0);
  });

  // Queued for the ledger's exclusive lock, it would hold up every writer arriving after it for
  // as long as that transaction lasts; with the lock timeout they wait at most that long.
  it("gives up, creating nothing, rather than wait on a transaction that holds the ledger", async () => {
    const holder = await handle.pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`SELECT count(*) FROM usage_ledger`);
      await expect(ensureLedgerMonthsAhead(handle.prisma, new Date("2042-01-10T00:00:00Z"), 300)).rejects.toThrow(/lock timeout/i);
      expect(await partitions(2042)).toEqual([]);
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
    expect(await ensureLedgerMonthsAhead(handle.prisma, new Date("2042-01-10T00:00:00Z"))).toBe(3);
  });
});

describe("npm run archive-ledger", () => {
  const cli = (args: string[]) => runScript("scripts/archive-ledger.ts", args, { DATABASE_URL: scratch.url });

  it(
    "refuses a malformed month before touching the database, a month not over long enough with one line; a dry run writes nothing",
    async () => {
      const malformed = await cli(["--month", "2026-13", "--out", path.join(dir, "x.csv")]);
      expect(malformed.code).toBe(1);
      expect(malformed.stderr).toMatch(/^npm run archive-ledger: --month must be a UTC month as YYYY-MM/);
      const thisMonth = new Date().toISOString().slice(0, 7);
      const current = await cli(["--month", thisMonth, "--out", path.join(dir, "now.csv")]);
      expect(current.code).toBe(1);
      expect(current.stderr).toMatch(new RegExp(`^npm run archive-ledger: ${thisMonth} cannot be archived before`));
      const dry = await cli(["--month", "2026-01", "--dry-run"]);
      expect(dry.stdout).toMatch(/dry run, nothing written\): 2026-01 has 0 ledger rows/);
      expect(dry.code).toBe(0);
      const already = await cli(["--month", "2026-02", "--out", path.join(dir, "again.csv")]);
      expect(already.stdout).toMatch(/2026-02 was archived already/);
    },
    CLI_TIMEOUT_MS,
  );
});
