import { randomInt } from "node:crypto";

import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";

import { runBackfill } from "@/server/billing/backfill";
import { createDatabase } from "@/server/db/client";
import { seedDatabase, slugPrefix } from "@/server/seed";

import { CLI_TIMEOUT_MS, startScript } from "../helpers/cli";
import { waitFor } from "../helpers/wait";

// The command line as a person runs it, as real child processes: an apply killed with
// SIGKILL mid-run and resumed; Ctrl-C (SIGINT) stopping after the current batch; exit codes.
// To stop a run at a known place, the test holds an uncommitted usage_cache row of one org:
// the apply's per-org transaction waits on it, with the batches before it done.

const handle = createDatabase(inject("databaseUrl"), { max: 4, applicationName: "vitest-backfill-resume" });
afterAll(() => handle.close());
const pool = handle.pool;

const cli = (args: string[]) => startScript("scripts/billing-backfill.ts", args, { DATABASE_URL: inject("databaseUrl") });

async function seedOrgs(orgs: number): Promise<{ prefix: string; ids: string[] }> {
  const seed = randomInt(1_000, 2 ** 32 - 1);
  const prefix = slugPrefix(seed);
  await seedDatabase(pool, { orgs, seed, legacyOnly: true, batchSize: 50 });
  const { rows } = await pool.query<{ id: string }>(`SELECT id::text FROM organizations WHERE slug LIKE $1 ORDER BY id`, [`${prefix}%`]);
  return { prefix, ids: rows.map((r) => r.id) };
}

/** Holds an uncommitted cache row of `orgId` until `release()`. */
async function block(orgId: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: inject("databaseUrl"), application_name: "vitest-blocker" });
  await client.connect();
  await client.query("BEGIN");
  await client.query(`INSERT INTO usage_cache (org_id, metric, count) VALUES ($1::uuid, 'members', 0)`, [orgId]);
  return {
    async release() {
      await client.query("ROLLBACK");
      await client.end();
    },
  };
}

interface RunRow {
  id: string;
  status: string;
  cursor: string | null;
  orgs_scanned: number;
  deltas_applied: number;
}

async function latestRun(prefix: string, mode: string): Promise<RunRow | undefined> {
  const { rows } = await pool.query<RunRow>(
    `SELECT id::text, status, cursor::text, orgs_scanned, deltas_applied FROM backfill_runs
     WHERE org_prefix = $1 AND mode = $2 ORDER BY started_at DESC LIMIT 1`,
    [prefix, mode],
  );
  return rows[0];
}

/** Waits until the backfill's connection is waiting on a lock (our blocker). */
const waitBlocked = () =>
  waitFor("the backfill to wait on the blocker", async () => {
    const { rows } = await pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'npm run backfill' AND wait_event_type = 'Lock'`,
    );
    return rows.length > 0;
  });

async function ledgerRowsOf(orgIds: string[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_ledger WHERE org_id = ANY($1::uuid[])`, [orgIds]);
  return rows[0]?.n ?? 0;
}

describe("npm run backfill (child processes)", () => {
  it(
    "an apply killed with SIGKILL mid-run leaves no half-applied org; --resume finishes it; --verify passes",
    async () => {
      const { prefix, ids } = await seedOrgs(100);
      const blocker = await block(ids[52] as string);
      let released = false;
      const run = cli(["--apply", "--batch-size", "5", "--concurrency", "2", "--org-prefix", prefix]);
      try {
        // Batches 1–10 done (cursor at org 49); the 11th waits on org 52.
        const moved = await waitFor("the cursor to move", async () => {
          const r = await latestRun(prefix, "apply");
          return r?.cursor === ids[49] ? r : undefined;
        });
        await waitBlocked();
        run.child.kill("SIGKILL");
        const killed = await run.exit;
        expect(killed.signal).toBe("SIGKILL");
        await blocker.release();
        released = true;

        const after = await latestRun(prefix, "apply");
        expect(after).toMatchObject({ id: moved.id, status: "running", cursor: ids[49], orgs_scanned: 50 });
        // Untouched after the batch in flight; the blocked org not half-applied.
        expect(await ledgerRowsOf(ids.slice(55))).toBe(0);
        expect(await ledgerRowsOf([ids[52] as string])).toBe(0);
      } finally {
        if (!released) await blocker.release();
        run.killIfRunning();
      }

      const resumed = await cli(["--apply", "--resume", "--batch-size", "5", "--org-prefix", prefix]).exit;
      expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
      expect(resumed.stdout).toContain("resumed after 50 orgs");
      expect(resumed.stdout).toContain("verified: cache == SUM(ledger) == old count");

      // The command's own --verify (and its exit codes) is proven on a process in the SIGINT
      // test below; here the same verification runs in-process, sparing a cold start.
      expect(await runBackfill(pool, { mode: "verify", orgPrefix: prefix, concurrency: 2, startedBy: "test" })).toMatchObject({
        status: "completed",
        mismatches: 0,
        remaining: 0,
      });

      const run2 = await latestRun(prefix, "apply");
      expect(run2).toMatchObject({ status: "completed", orgs_scanned: 100 });
      const { rows } = await pool.query<{ twice: number; total: number; runs: number }>(
        `SELECT count(*) FILTER (WHERE n > 1)::int AS twice, COALESCE(sum(n), 0)::int AS total, count(DISTINCT actor)::int AS runs FROM (
         SELECT l.org_id, l.metric, min(l.actor) AS actor, count(*) AS n FROM usage_ledger l JOIN organizations o ON o.id = l.org_id
         WHERE o.slug LIKE $1 AND l.reason = 'migration' GROUP BY l.org_id, l.metric) x`,
        [`${prefix}%`],
      );
      expect(rows[0]?.twice).toBe(0); // no org has two migration rows for a metric
      expect(rows[0]?.runs).toBe(1); // all from the one (resumed) run
      expect(run2?.deltas_applied).toBe(rows[0]?.total); // totals recounted from the report
    },
    2 * CLI_TIMEOUT_MS,
  );

  it(
    "SIGINT stops after the current batch (cancelled, exit 130); --verify exits 1 until the rest is applied",
    async () => {
      const { prefix, ids } = await seedOrgs(40);
      const blocker = await block(ids[12] as string);
      let released = false;
      const run = cli(["--apply", "--batch-size", "5", "--org-prefix", prefix]);
      try {
        await waitFor("the cursor to move", async () => (await latestRun(prefix, "apply"))?.cursor === ids[9]);
        await waitBlocked();
        run.child.kill("SIGINT");
        // Released only once the command has taken the signal (it says so on stderr), so the
        // batch in flight is the last one whatever the machine's load.
        await waitFor("the command to acknowledge SIGINT", () => run.output().stderr.includes("stopping after the current batch"));
        await blocker.release(); // the batch in flight can finish now
        released = true;
        const stopped = await run.exit;
        expect(stopped.code, stopped.stderr + stopped.stdout).toBe(130);
        expect(stopped.stdout).toContain("continue with: npm run backfill -- --apply --resume");
      } finally {
        if (!released) await blocker.release();
        run.killIfRunning();
      }
      expect(await latestRun(prefix, "apply")).toMatchObject({ status: "cancelled", cursor: ids[14], orgs_scanned: 15 });
      expect(await ledgerRowsOf(ids.slice(15))).toBe(0);

      const failing = await cli(["--verify", "--org-prefix", prefix]).exit;
      expect(failing.code).toBe(1);
      expect(failing.stdout).toMatch(/STILL DIFFERENT: \d+ \(org, metric\) pairs/);

      const rest = await cli(["--apply", "--resume", "--org-prefix", prefix]).exit;
      expect(rest.code, rest.stderr).toBe(0);
      expect((await cli(["--verify", "--org-prefix", prefix]).exit).code).toBe(0);
    },
    4 * CLI_TIMEOUT_MS,
  );

  it(
    "a usage mistake is one line and exit code 1",
    async () => {
      const bad = await cli(["--apply", "--verify"]).exit;
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim()).toBe("npm run backfill: choose one of --dry-run, --apply, --verify (got --apply, --verify)");
    },
    CLI_TIMEOUT_MS,
  );
});
