import { randomBytes, randomInt } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, inject, it } from "vitest";

import { readMigrations } from "@/server/db/migrator";

import type { PhaseReport } from "../../scripts/rehearse/phases";
import { rehearse, type RehearsalReport } from "../../scripts/rehearse/rehearsal";
import { TRAFFIC_ACTOR_PREFIX } from "../../scripts/rehearse/workload";
import { CLEANUP_MIGRATION, CLEANUP_REFUSAL } from "../../tools";
import { runScript } from "../helpers/cli";
import { createScratchDatabase, tableNames, withClient, type ScratchDatabase } from "../helpers/databases";

// The migration rehearsal end to end, on fresh databases of the test server: the module
// with live traffic from worker processes (every phase's outcome asserted), then the
// `npm run rehearse` command itself with a code path that forgets to count, which must fail
// (and whose cleanup migration must then be refused).

const databases: ScratchDatabase[] = [];
const files: string[] = [];
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await Promise.all(files.map((f) => rm(f, { force: true })));
});

const PHASE_KEYS = [
  "migrate_host_tables",
  "seed_legacy",
  "phase_a_migrate",
  "dry_run",
  "phase_b_apply_under_traffic",
  "verify",
  "phase_c_enforcement",
  "cleanup_migration",
  "verify_after_cleanup",
];

function phase(report: { phases: PhaseReport[] }, key: string): PhaseReport {
  const found = report.phases.find((p) => p.key === key);
  if (!found) throw new Error(`no phase ${key} in the report`);
  return found;
}

const num = (p: PhaseReport, name: string) => p.counts[name] as number;

describe("the migration rehearsal", () => {
  it("runs the whole runbook on a fresh database under live traffic and every phase passes on its own evidence", async () => {
    const database = await createScratchDatabase(inject("adminUrl"), "billing_rehearsal");
    databases.push(database);
    const lines: string[] = [];
    const report: RehearsalReport = await rehearse({
      databaseUrl: database.url,
      orgs: 300,
      seed: randomInt(1, 2 ** 31),
      trafficSeconds: 10,
      trafficProcesses: 3,
      trafficLoops: 2,
      batchSize: 20,
      concurrency: 3,
      log: (line) => lines.push(line),
    });
    const failed = report.phases.filter((p) => !p.ok).map((p) => `${p.key}: ${p.problems.join("; ")}`);
    expect(failed, lines.join("\n")).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.phases.map((p) => p.key)).toEqual(PHASE_KEYS);
    // Each phase printed with its timing.
    expect(lines.filter((l) => /^\s+ok in \d+\.\d\d s/.test(l))).toHaveLength(PHASE_KEYS.length);

    const migrations = (await readMigrations()).length;
    expect(phase(report, "migrate_host_tables").counts).toMatchObject({ migrationsApplied: 1, pending: migrations - 1 });

    const seeded = phase(report, "seed_legacy");
    expect(num(seeded, "orgs")).toBe(300);
    expect(num(seeded, "members")).toBeGreaterThan(300);
    expect(num(seeded, "legacyJsonbWrongPairs")).toBeGreaterThan(0);

    expect(phase(report, "phase_a_migrate").counts).toMatchObject({ migrationsApplied: migrations - 2, pending: 1, ledgerRows: 0 });

    // The dry run found every org missing from the ledger, and exactly the seeded JSONB drift.
    const dryRun = phase(report, "dry_run");
    expect(num(dryRun, "billingMismatches")).toBeGreaterThan(300);
    expect(num(dryRun, "legacyMismatches")).toBe(num(seeded, "legacyJsonbWrongPairs"));

    // Phase B: the traffic really changed counts while the apply ran, all four ways.
    const applied = phase(report, "phase_b_apply_under_traffic");
    expect(applied.counts).toMatchObject({ exitCode: 0, orgsApplied: 300 });
    expect(num(applied, "trafficSeconds")).toBeGreaterThanOrEqual(10);
    expect(num(applied, "consumesDuringApply")).toBeGreaterThan(0);
    expect(num(applied, "consumesBeforeApplyReachedOrg")).toBeGreaterThan(0);
    expect(num(applied, "consumesApplied")).toBeGreaterThanOrEqual(num(applied, "consumesDuringApply"));
    for (const change of ["membersAdded", "membersRemoved", "filesUploaded", "filesDeleted"])
      expect(num(applied, change), change).toBeGreaterThan(0);

    for (const key of ["verify", "verify_after_cleanup"]) {
      expect(phase(report, key).counts, key).toMatchObject({
        exitCode: 0,
        orgsVerified: 300,
        remaining: 0,
        pairsCheckedBySql: 900,
        mismatchesBySql: 0,
        cacheLedgerDrift: 0,
      });
    }
    expect(phase(report, "verify").counts.legacyColumn).toBe("present");
    expect(phase(report, "verify_after_cleanup").counts.legacyColumn).toBe("absent");
    expect(phase(report, "phase_c_enforcement").counts).toMatchObject({ checks: 3, passed: 3 });
    expect(phase(report, "cleanup_migration").counts).toMatchObject({ migrationsApplied: 1 });

    // The database itself, read by this test: the ledger holds what the phases say.
    await withClient(database.url, async (client) => {
      const { rows } = await client.query<{
        processes: number;
        traffic: number;
        trafficDenials: number;
        migration: number;
        denials: number;
        applied: string[];
      }>(
        `SELECT (SELECT count(DISTINCT actor) FROM usage_ledger WHERE actor LIKE $1 || '%')::int AS processes,
                (SELECT count(*) FROM entitlement_denials WHERE actor LIKE $1 || '%')::int AS "trafficDenials",
                (SELECT count(*) FROM usage_ledger WHERE actor LIKE $1 || '%')::int AS traffic,
                (SELECT count(*) FROM usage_ledger WHERE reason = 'migration')::int AS migration,
                (SELECT count(*) FROM entitlement_denials WHERE actor = 'rehearsal-phase-c')::int AS denials,
                (SELECT array_agg(migration_name ORDER BY migration_name) FROM _prisma_migrations) AS applied`,
        [TRAFFIC_ACTOR_PREFIX],
      );
      const r = rows[0]!;
      expect(r.processes).toBe(3); // three separate worker processes wrote
      // One ledger row per committed consume, one denial row per denied one.
      expect(r.traffic).toBe(num(applied, "consumesApplied"));
      expect(r.trafficDenials).toBe(num(applied, "denied"));
      expect(r.migration).toBe(num(applied, "migrationRows"));
      expect(r.denials).toBeGreaterThanOrEqual(2); // at the limit, and over it
      expect(r.applied.at(-1)).toBe(CLEANUP_MIGRATION);
      expect(r.applied).toHaveLength(migrations);
    });
  }, 120_000);

  it("npm run rehearse with a writer that forgets to count: the verify fails, the cleanup is refused, exit 1, and its scratch database is dropped", async () => {
    // The project's database for this run of the command: the rehearsal must not touch it.
    const project = await createScratchDatabase(inject("adminUrl"), "billing_rehearse_project");
    databases.push(project);
    const json = path.join(os.tmpdir(), `rehearse-${randomBytes(6).toString("hex")}.json`);
    files.push(json);
    const { code, output } = await runRehearse(project.url, [
      "--orgs",
      "60",
      "--traffic-seconds",
      "2",
      "--traffic-processes",
      "1",
      "--uncounted-writers",
      "1",
      "--json",
      json,
    ]);
    expect(code, output).toBe(1);
    expect(output).toMatch(/npm run rehearse: FAILED: /);

    const report = JSON.parse(await readFile(json, "utf8")) as RehearsalReport & { database: string; dropped: boolean };
    expect(report.ok).toBe(false);
    expect(report.traffic?.uncountedWrites).toBeGreaterThan(0);
    const verify = phase(report, "verify");
    expect(verify.ok).toBe(false);
    expect(num(verify, "mismatchesBySql")).toBeGreaterThan(0);
    expect(num(verify, "remaining")).toBe(num(verify, "mismatchesBySql"));
    // Step 6 is refused by the cleanup migration's own guard (the newest whole-database
    // verify left mismatches): the legacy column stays, and the verify after it is skipped.
    const cleanup = phase(report, "cleanup_migration");
    expect(cleanup.ok).toBe(false);
    expect(cleanup.counts).toMatchObject({ refused: true, migrationsApplied: 0, legacyColumn: "present" });
    expect(cleanup.problems).toHaveLength(1);
    expect(cleanup.problems[0]).toMatch(
      new RegExp(
        `^refused, as it must be after a failed verify: Migration ${CLEANUP_MIGRATION} failed and was rolled back: ${CLEANUP_REFUSAL.source}`,
      ),
    );
    expect(cleanup.problems[0]).toContain(`left ${num(verify, "remaining")} (org, metric) pairs differing`);
    expect(phase(report, "verify_after_cleanup")).toMatchObject({
      ok: false,
      skipped: true,
      problems: ["skipped: the cleanup migration was refused"],
    });
    expect(output).toMatch(/Step 6: migrate \(the verify failed: .* must refuse to run\)…\n\s+FAILED in [\d.]+ s: .*refused true/);
    expect(output).toMatch(/npm run backfill -- --verify again, without the legacy column…\n\s+SKIPPED: the cleanup migration was refused/);
    // The earlier phases still passed: the failure is the missed path, nothing else.
    for (const key of ["migrate_host_tables", "seed_legacy", "phase_a_migrate", "dry_run"]) expect(phase(report, key).ok, key).toBe(true);

    expect(report.database).toMatch(/^billing_rehearsal_[0-9a-f]{12}$/);
    expect(report.dropped).toBe(true);
    const left = await withClient(inject("adminUrl"), (c) => c.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [report.database]));
    expect(left.rows).toHaveLength(0);
    expect(await tableNames(project.url)).toEqual([]);
  }, 120_000);

  it("npm run rehearse refuses a bad argument with one line before touching any database", async () => {
    const { code, output } = await runRehearse("postgresql://nobody@127.0.0.1:1/none", ["--orgs", "3"]);
    expect(code).toBe(1);
    expect(output.trim()).toBe('npm run rehearse: --orgs must be an integer from 50 to 1000000, got "3"');
  });
});

async function runRehearse(databaseUrl: string, args: string[]): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await runScript("scripts/rehearse.ts", args, { DATABASE_URL: databaseUrl });
  return { code: code ?? -1, output: stdout + stderr };
}
