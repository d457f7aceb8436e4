import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { usagePercentSql } from "@/server/billing/near-limit";
import { listOrganizations } from "@/server/billing/organizations";
import { type Prisma } from "@/server/db/client";

import { newOrg, testDatabase } from "../helpers/db";

/**
 * "Near limit" (the Overview's counts, the organizations filter) reads a period counter only
 * in its current window: a free org that used its whole month of API calls last month is not
 * at 100 % this month, before any write has reset its row.
 */
const { prisma } = testDatabase();

async function percentOf(orgId: string, now: Date): Promise<number | null> {
  const rows = await prisma.$queryRaw<{ pct: Prisma.Decimal | number | string }[]>`
    SELECT pct FROM (${usagePercentSql(now)}) p WHERE p.org_id = ${orgId}::uuid`;
  return rows[0] ? Number(rows[0].pct) : null;
}

describe("near limit follows the usage window", () => {
  it("a free org's full month of API calls counts in its month, and not in the next", async () => {
    const lastMonth = new Date("2026-11-20T12:00:00Z");
    const thisMonth = new Date("2026-12-02T12:00:00Z");
    const org = await newOrg(prisma);
    const services = createBillingServices(prisma, { clock: () => lastMonth });
    await services.usage.increment(org.id, "api_calls", 10_000n, "test"); // the free plan's hard 10 000

    expect(await percentOf(org.id, lastMonth)).toBe(100);
    // Nothing written since the month turned: the row still holds November's count, which
    // December does not count (gauges aside, the org has no other usage: absent or 0 %).
    expect(await percentOf(org.id, thisMonth)).toBeOneOf([null, 0]);
  });

  it("a gauge counts whatever its window (members have none)", async () => {
    const org = await newOrg(prisma);
    const services = createBillingServices(prisma, { clock: () => new Date("2026-10-01T00:00:00Z") });
    await services.usage.increment(org.id, "members", 5n, "test"); // the free plan's hard 5
    expect(await percentOf(org.id, new Date("2026-12-02T12:00:00Z"))).toBe(100);
  });

  it("the organizations list sorts a period metric by what each org counts in its current window", async () => {
    const lastMonth = new Date("2026-11-20T12:00:00Z");
    const thisMonth = new Date("2026-12-02T12:00:00Z");
    const tag = `sortwin${Date.now().toString(36)}`;
    const stale = await newOrg(prisma, { name: `${tag} stale` });
    const current = await newOrg(prisma, { name: `${tag} current` });
    await createBillingServices(prisma, { clock: () => lastMonth }).usage.increment(stale.id, "api_calls", 9_000n, "test");
    await createBillingServices(prisma, { clock: () => thisMonth }).usage.increment(current.id, "api_calls", 7n, "test");

    const page = await listOrganizations(prisma, { page: 1, pageSize: 10, search: tag, sort: "api_calls", now: thisMonth });
    expect(page.items.map((o) => [o.id, o.counts.api_calls])).toEqual([
      [current.id, 7n],
      [stale.id, 0n], // November's 9 000 is not December's usage
    ]);
  });
});
