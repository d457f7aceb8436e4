import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import path from "node:path";

import { afterAll, describe, expect, inject, it } from "vitest";

import { runBackfill } from "@/server/billing/backfill";
import { createDatabase } from "@/server/db/client";
import { seedDatabase, slugPrefix } from "@/server/seed";

import { waitFor } from "../helpers/wait";

// The apply protocol under live traffic: worker processes add and remove members (and
// teams) in the same transaction as their increment/consume WHILE an apply runs over the
// same organizations. Nothing may be lost or counted twice: afterwards every org has
// cache == SUM(ledger) == COUNT(members) (and COUNT(teams), SUM(file sizes)).

const handle = createDatabase(inject("databaseUrl"), { max: 8, applicationName: "vitest-backfill-concurrency" });
afterAll(() => handle.close());

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  done: Promise<{ committed: number; refused: number; denied: number }>;
}

function startWorker(orgIds: string[], seed: number): Worker {
  const child = spawn(path.resolve("node_modules/.bin/tsx"), ["--conditions=react-server", "test/workers/backfill-traffic.ts"], {
    env: { ...process.env, WORKER_DATABASE_URL: inject("databaseUrl"), WORKER_ORG_IDS: JSON.stringify(orgIds), WORKER_SEED: String(seed) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout?.on("data", (chunk) => {
    out += chunk;
    if (out.includes("ready\n")) onReady();
  });
  child.stderr?.on("data", (chunk) => (err += chunk));
  const done = new Promise<{ committed: number; refused: number; denied: number }>((resolve, reject) => {
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`traffic worker exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split("\n").pop() as string));
    });
  });
  return { child, ready: Promise.race([ready, done.then(() => undefined)]), done };
}

async function workerLedgerRows(prefix: string): Promise<number> {
  const { rows } = await handle.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM usage_ledger l JOIN organizations o ON o.id = l.org_id
     WHERE o.slug LIKE $1 AND l.actor LIKE 'traffic-%'`,
    [`${prefix}%`],
  );
  return rows[0]?.n ?? 0;
}

describe("apply under live traffic", () => {
  it.each([1, 10])(
    "2 traffic processes adding/removing members and teams during --apply over 150 orgs (%i org(s) per transaction): verify passes, nothing lost or doubled",
    async (orgsPerTransaction) => {
      const seed = randomInt(1_000, 2 ** 32 - 1);
      const prefix = slugPrefix(seed);
      await seedDatabase(handle.pool, { orgs: 150, seed, legacyOnly: true, batchSize: 50 });
      const { rows: ids } = await handle.pool.query<{ id: string }>(`SELECT id::text FROM organizations WHERE slug LIKE $1 ORDER BY id`, [
        `${prefix}%`,
      ]);
      const orgIds = ids.map((r) => r.id);

      const workers = [startWorker(orgIds, seed), startWorker(orgIds, seed + 1)];
      try {
        await Promise.all(workers.map((w) => w.ready));
        const trafficBefore = await workerLedgerRows(prefix);
        const apply = await runBackfill(handle.pool, {
          mode: "apply",
          orgPrefix: prefix,
          batchSize: orgsPerTransaction === 1 ? 5 : 30,
          concurrency: 3,
          orgsPerTransaction,
          startedBy: "test",
        });
        const trafficAfterApply = await workerLedgerRows(prefix);
        const trafficDuring = trafficAfterApply - trafficBefore;
        // The traffic goes on after the apply, on the corrected counts: some more changes
        // committed (a count of rows, not a pause that a loaded machine may spend idle).
        await waitFor("traffic committed after the apply", async () => (await workerLedgerRows(prefix)) >= trafficAfterApply + 10, {
          timeoutMs: 60_000,
        });
        for (const w of workers) w.child.stdin?.end();
        const reports = await Promise.all(workers.map((w) => w.done));

        expect(apply.status).toBe("completed");
        expect(apply.orgsScanned).toBe(150);
        expect(apply.remaining).toBe(0); // its closing verification, taken while the traffic ran
        expect(trafficDuring).toBeGreaterThan(0); // the traffic really flowed while the apply ran
        expect(reports.reduce((n, r) => n + r.committed, 0)).toBeGreaterThan(20);
      } finally {
        for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
      }

      const verify = await runBackfill(handle.pool, { mode: "verify", orgPrefix: prefix, startedBy: "test" });
      expect(verify).toMatchObject({ status: "completed", mismatches: 0, remaining: 0 });

      // The same, the slow way, straight from the tables.
      const { rows } = await handle.pool.query<{
        org_id: string;
        metric: string;
        old: string;
        cache: string | null;
        ledger: string;
        migrations: number;
      }>(
        `SELECT o.id::text AS org_id, m.metric,
         (CASE m.metric WHEN 'members' THEN (SELECT count(*) FROM members WHERE org_id = o.id)
                        WHEN 'teams' THEN (SELECT count(*) FROM teams WHERE org_id = o.id)
                        ELSE (SELECT COALESCE(sum(size_bytes), 0) FROM stored_files WHERE org_id = o.id) END)::text AS old,
         (SELECT count::text FROM usage_cache WHERE org_id = o.id AND metric = m.metric) AS cache,
         (SELECT COALESCE(sum(delta), 0)::text FROM usage_ledger WHERE org_id = o.id AND metric = m.metric) AS ledger,
         (SELECT count(*)::int FROM usage_ledger WHERE org_id = o.id AND metric = m.metric AND reason = 'migration') AS migrations
       FROM organizations o CROSS JOIN unnest(ARRAY['members', 'teams', 'storage_bytes']) AS m(metric)
       WHERE o.slug LIKE $1`,
        [`${prefix}%`],
      );
      expect(rows).toHaveLength(450);
      for (const row of rows) {
        expect(row.ledger, `${row.org_id} ${row.metric}`).toBe(row.old);
        expect(row.cache ?? "0", `${row.org_id} ${row.metric}`).toBe(row.old);
        expect(row.migrations).toBeLessThanOrEqual(1);
      }
    },
    120_000,
  );
});
