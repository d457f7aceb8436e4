import { describe, expect, inject, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { catchUpWindows } from "@/server/billing/window-catch-up";

import { CLI_TIMEOUT_MS, runScript } from "../helpers/cli";
import { newOrg, testDatabase } from "../helpers/db";

/**
 * `npm run windows:catch-up`: rows that are never written are brought into their current
 * window with the reset their next write would make; idempotent; a dry run writes nothing.
 * Scoped to the test's own orgs (`orgId` / `--org`): the database is shared with other tests.
 */
const { prisma } = testDatabase();

/** A free org whose api_calls row predates windows: 500 before `windowStart`, 30 after it. */
async function staleOrg(windowStart: Date) {
  const org = await newOrg(prisma);
  const rows: [bigint, Date][] = [
    [500n, new Date(windowStart.getTime() - 40 * 86_400_000)],
    [30n, new Date(windowStart.getTime() + 60_000)],
  ];
  for (const [delta, timestamp] of rows) {
    await prisma.usageLedger.create({
      data: { orgId: org.id, metric: "api_calls", delta, reason: "api_call", actor: "legacy", timestamp },
    });
  }
  await prisma.usageCache.create({ data: { orgId: org.id, metric: "api_calls", count: 530n, lastUpdated: rows[1]?.[1] } });
  return org;
}

const cacheOf = (orgId: string) => prisma.usageCache.findUniqueOrThrow({ where: { orgId_metric: { orgId, metric: "api_calls" } } });
const resetsOf = (orgId: string) => prisma.usageLedger.findMany({ where: { orgId, reason: "window_reset" } });

describe("catchUpWindows", () => {
  it("dry run reports and writes nothing; the run writes one reset keeping the usage since the window began; a second run moves nothing", async () => {
    const now = new Date("2026-12-02T10:00:00Z");
    const december = new Date("2026-12-01T00:00:00Z");
    const org = await staleOrg(december);
    const current = await newOrg(prisma);
    await createBillingServices(prisma, { clock: () => now }).usage.increment(current.id, "ai_requests", 3n, "ai_request");

    const dry = await catchUpWindows(prisma, { now, orgId: org.id, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, scanned: 1 });
    expect(dry.moved).toMatchObject([{ orgId: org.id, metric: "api_calls", windowStart: december, count: 30n, reset: { delta: -500n } }]);
    expect(await resetsOf(org.id)).toEqual([]);
    expect(await cacheOf(org.id)).toMatchObject({ count: 530n, windowStart: null });

    const done = await catchUpWindows(prisma, { now, orgId: org.id });
    expect(done.moved).toMatchObject([{ orgId: org.id, metric: "api_calls", windowStart: december, count: 30n }]);
    expect((await resetsOf(org.id)).map((r) => [r.delta, r.idempotencyKey, r.actor])).toEqual([
      [-500n, "window_reset:api_calls:2026-12-01T00:00:00.000Z", "windows:catch-up"],
    ]);
    expect(await cacheOf(org.id)).toMatchObject({ count: 30n, windowStart: december });
    expect(await catchUpWindows(prisma, { now, orgId: org.id })).toMatchObject({ scanned: 1, moved: [] });

    // A row already in its window is left alone.
    expect(await catchUpWindows(prisma, { now, orgId: current.id })).toMatchObject({ scanned: 1, moved: [] });
    expect(await createBillingServices(prisma).usage.verify(org.id)).toEqual([]);
  });
});

describe("npm run windows:catch-up", () => {
  it(
    "prints each row it moves and a summary; --dry-run says nothing was written; a bad option is one line",
    async () => {
      // The script reads the wall clock: the window is this month's, in UTC.
      const today = new Date();
      const org = await staleOrg(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1)));
      const run = (args: string[]) =>
        runScript("scripts/windows-catch-up.ts", ["--org", org.id, ...args], { DATABASE_URL: inject("databaseUrl") });

      // Both at once: two independent processes, one cold start's wait.
      const [dry, bad] = await Promise.all([run(["--dry-run"]), run(["--batch-size", "0"])]);
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim()).toBe('npm run windows:catch-up: --batch-size must be an integer from 1 to 10000, got "0"');
      expect(dry.stderr).toBe("");
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain(`${org.id} api_calls: would move into the window from`);
      expect(dry.stdout).toContain("removed 500 recorded before it");
      expect(dry.stdout).toContain("(dry run, nothing written): 1 period counters scanned, 1 would move into their current window");
      expect(await resetsOf(org.id)).toEqual([]);

      const real = await run([]);
      expect(real.code).toBe(0);
      expect(real.stdout).toContain("1 moved into their current window, 1 with a window_reset row");
      expect((await cacheOf(org.id)).count).toBe(30n);
      expect(await resetsOf(org.id)).toHaveLength(1);
    },
    2 * CLI_TIMEOUT_MS,
  );
});
