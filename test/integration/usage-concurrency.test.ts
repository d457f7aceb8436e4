import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { createBillingServices } from "@/server/billing";
import { newOrg, testDatabase } from "../helpers/db";

const { prisma } = testDatabase();
const WORKERS = 8;
const OPS_PER_WORKER = 2_000;

function runWorker(orgIds: string[], seed: number): Promise<{ applied: Record<string, string>; refused: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.resolve("node_modules/.bin/tsx"), ["test/workers/usage-worker.ts"], {
      env: {
        ...process.env,
        WORKER_DATABASE_URL: inject("databaseUrl"),
        WORKER_ORG_IDS: JSON.stringify(orgIds),
        WORKER_OPS: String(OPS_PER_WORKER),
        WORKER_SEED: String(seed),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`worker exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split("\n").pop() as string));
    });
  });
}

describe("usage under 8 worker processes", () => {
  it(`${WORKERS} processes × ${OPS_PER_WORKER} mixed increments/decrements over 50 orgs: zero drift, counts = replay`, async () => {
    const orgs = await Promise.all(Array.from({ length: 50 }, () => newOrg(prisma)));
    const orgIds = orgs.map((o) => o.id);
    const reports = await Promise.all(Array.from({ length: WORKERS }, (_, i) => runWorker(orgIds, 1000 + i)));

    // What the workers saw applied, summed across processes.
    const expected = new Map<string, bigint>();
    for (const report of reports) {
      for (const [key, delta] of Object.entries(report.applied)) expected.set(key, (expected.get(key) ?? 0n) + BigInt(delta));
    }
    const refused = reports.reduce((n, r) => n + r.refused, 0);
    expect(refused).toBeGreaterThan(0); // the load really pushed gauges towards zero

    const cache = await prisma.usageCache.findMany({ where: { orgId: { in: orgIds } } });
    const ledger = await prisma.usageLedger.findMany({
      where: { orgId: { in: orgIds } },
      select: { orgId: true, metric: true, delta: true },
    });
    expect(ledger.length + refused).toBe(WORKERS * OPS_PER_WORKER);

    // A serial replay of the ledger: the running count never dips below zero and ends at the cache.
    const replay = new Map<string, bigint>();
    for (const row of ledger) replay.set(`${row.orgId}|${row.metric}`, (replay.get(`${row.orgId}|${row.metric}`) ?? 0n) + row.delta);
    for (const row of cache) {
      const key = `${row.orgId}|${row.metric}`;
      expect(row.count, key).toBe(replay.get(key) ?? 0n);
      expect(row.count, key).toBe(expected.get(key) ?? 0n);
      expect(row.count >= 0n).toBe(true);
    }
    const services = createBillingServices(prisma);
    for (const orgId of orgIds) expect(await services.usage.verify(orgId)).toEqual([]);
  }, 120_000);
});
