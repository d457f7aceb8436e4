import { describe, expect, it } from "vitest";

import { createCaller } from "@/server/api/root";
import { listOrgsInput } from "@/server/api/routers/billing/orgs.types";
import { createTRPCContext } from "@/server/api/trpc";
import { createBillingServices } from "@/server/billing";
import { ledgerTotals, listLedger } from "@/server/billing/ledger-history";
import { METRIC_DEFINITIONS, METRICS } from "@/server/billing/metrics";
import { nearLimitCounts } from "@/server/billing/near-limit";
import { getOrganizationDetail } from "@/server/billing/org-insights";
import { listOrganizations, ORGANIZATION_SORTS } from "@/server/billing/organizations";
import { currentWindow } from "@/server/billing/usage-window";

import { newOrg, newSubscription, testDatabase, uniqueSuffix } from "../helpers/db";

/**
 * The staff read models follow the metric catalogue: every metric of metrics.ts shows in the
 * org detail, its series and windows, the organizations list (counts, limits, sort) and the
 * ledger's totals, with no list of metrics anywhere else; and a stored row of a metric the
 * catalogue does not know shows by its raw name through every procedure's output schema.
 */

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);
const PERIOD_METRICS = METRICS.filter((m) => METRIC_DEFINITIONS[m].kind === "period_counter");

/** The staff API as a viewer, through the routers' output schemas (the session is injected). */
async function viewer() {
  const session = { user: { id: `surfaces-${uniqueSuffix()}`, email: "surfaces@staff.test", name: "Surfaces", role: "viewer" as const } };
  const ctx = await createTRPCContext({ headers: new Headers(), db: () => prisma, staff: async () => session });
  return createCaller(ctx).billing;
}

/** A row the catalogue does not know, written as a newer deploy would: ledger and cache together. */
async function uncataloguedRow(orgId: string, metric: string, delta: bigint) {
  await prisma.$transaction(async (tx) => {
    await tx.$executeRaw`
      INSERT INTO usage_ledger (org_id, metric, delta, reason, actor)
      VALUES (${orgId}::uuid, ${metric}, ${delta}::bigint, 'newer_deploy', 'vitest')`;
    await tx.$executeRaw`
      INSERT INTO usage_cache (org_id, metric, count) VALUES (${orgId}::uuid, ${metric}, ${delta}::bigint)`;
  });
}

describe("every metric of the catalogue, in every read model", () => {
  it("shows each metric's usage, series, window, list column, sort and ledger total", async () => {
    const org = await newOrg(prisma);
    for (const [i, metric] of METRICS.entries()) {
      await billing.usage.increment(org.id, metric, BigInt(i + 1), "catalogue_test");
    }
    const now = new Date();

    const detail = await getOrganizationDetail(prisma, billing.entitlements, org.id, now);
    expect(detail.usage.metrics.map((m) => m.metric)).toEqual(METRICS);
    expect(detail.series.map((s) => s.metric)).toEqual(METRICS);
    METRICS.forEach((_, i) => {
      expect(detail.usage.metrics[i]?.count).toBe(BigInt(i + 1));
      expect(detail.series[i]?.points.at(-1)?.count).toBe(BigInt(i + 1));
    });
    // Period metrics have a window (the one the usage writes count in); gauges have none.
    expect(detail.windows.map((w) => w.metric)).toEqual(PERIOD_METRICS);
    for (const window of detail.windows) {
      expect({ start: window.start, end: window.end }).toEqual(currentWindow(window.metric, null, now));
      expect(window.start.getTime()).toBeLessThanOrEqual(now.getTime());
      expect(window.resetsInSeconds).toBe(Math.ceil((window.end.getTime() - now.getTime()) / 1000));
    }
    expect(detail.uncatalogued).toEqual([]);

    const listed = (await listOrganizations(prisma, { search: org.id, page: 1, pageSize: 10 })).items;
    expect(listed).toHaveLength(1);
    expect(listed[0]?.counts).toEqual(Object.fromEntries(METRICS.map((m, i) => [m, BigInt(i + 1)])));
    expect(Object.keys(listed[0]?.limits ?? {}).sort()).toEqual([...METRICS].sort());

    expect(ORGANIZATION_SORTS).toEqual(["name", ...METRICS]);
    for (const metric of METRICS) {
      expect(listOrgsInput.parse({ sort: metric }).sort).toBe(metric);
      const sorted = await listOrganizations(prisma, { search: org.id, page: 1, pageSize: 10, sort: metric });
      expect(sorted.items.map((o) => o.id)).toEqual([org.id]);
    }

    const totals = await ledgerTotals(prisma, { orgId: org.id });
    expect(totals.map((t) => t.metric).sort()).toEqual([...METRICS].sort());
    for (const metric of METRICS) {
      expect(totals.find((t) => t.metric === metric)?.total).toBe(BigInt(METRICS.indexOf(metric) + 1));
      const entries = await listLedger(prisma, { orgId: org.id, metric }, { limit: 10 });
      expect(entries.items.map((e) => e.metric)).toEqual([metric]);
    }
    await expect(nearLimitCounts(prisma)).resolves.toBeDefined();
  });
});

describe("a stored row of a metric outside the catalogue", () => {
  it("shows by its raw name on the ledger page model, the org detail and the totals, through the output schemas", async () => {
    const org = await newOrg(prisma);
    const metric = `ai_tokens_${uniqueSuffix()}`;
    await billing.usage.increment(org.id, "members", 2n, "member_added");
    await uncataloguedRow(org.id, metric, 1234n);
    const api = await viewer();

    // The ledger page: its list and its totals, as the page calls them.
    const page = await api.ledger.list({ filter: { orgId: org.id }, limit: 50 });
    expect(page.items.map((e) => e.metric).sort()).toEqual(["members", metric].sort());
    const totals = await api.ledger.totals({ filter: { orgId: org.id } });
    expect(totals).toEqual(
      expect.arrayContaining([
        { metric: "members", reason: "member_added", entries: 1n, total: 2n },
        { metric, reason: "newer_deploy", entries: 1n, total: 1234n },
      ]),
    );
    expect(totals).toHaveLength(2);
    // The filter stays strict: it takes catalogue metrics only.
    await expect(api.ledger.list({ filter: { orgId: org.id, metric: metric as "members" } })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });

    // The org page: the catalogue's metrics as usual, the stranger by its raw name.
    const detail = await api.orgs.get({ orgId: org.id });
    expect(detail.usage.metrics.map((m) => m.metric)).toEqual(METRICS);
    expect(detail.uncatalogued).toEqual([{ metric, count: 1234n, lastUpdated: expect.any(Date) }]);
    expect(detail.series.map((s) => s.metric)).toEqual([...METRICS, metric]);
    expect(detail.series.at(-1)?.points.at(-1)?.count).toBe(1234n);
    expect(detail.windows.some((w) => w.metric === metric)).toBe(false);

    // The list and the overview read the cache around it.
    const listed = await api.orgs.list({ search: org.id });
    expect(listed.items[0]?.counts.members).toBe(2n);
    const stats = await api.orgs.stats();
    expect(stats.integrity.pairsChecked).toBeGreaterThanOrEqual(2);
  });
});

describe("the org detail's windows", () => {
  const now = new Date("2026-12-10T15:30:00Z");

  it("a free org counts its billing-period metrics in UTC calendar months", async () => {
    const org = await newOrg(prisma);
    const detail = await getOrganizationDetail(prisma, billing.entitlements, org.id, now);
    expect(detail.asOf).toEqual(now);
    expect(detail.windows.find((w) => w.metric === "api_calls")).toEqual({
      metric: "api_calls",
      start: new Date("2026-12-01T00:00:00Z"),
      end: new Date("2027-01-01T00:00:00Z"),
      resetsInSeconds: (22 * 24 - 15.5) * 3600,
    });
  });

  it("a paid org counts in its subscription's period, continued when the renewal is late", async () => {
    const org = await newOrg(prisma);
    await newSubscription(prisma, org.id, {
      currentPeriodStart: new Date("2026-11-15T09:30:00Z"),
      currentPeriodEnd: new Date("2026-12-15T09:30:00Z"),
    });
    const inPeriod = await getOrganizationDetail(prisma, billing.entitlements, org.id, now);
    expect(inPeriod.windows.find((w) => w.metric === "api_calls")).toMatchObject({
      start: new Date("2026-11-15T09:30:00Z"),
      end: new Date("2026-12-15T09:30:00Z"),
      resetsInSeconds: (4 * 24 + 18) * 3600,
    });
    const late = await getOrganizationDetail(prisma, billing.entitlements, org.id, new Date("2026-12-20T00:00:00Z"));
    expect(late.windows.find((w) => w.metric === "api_calls")).toMatchObject({
      start: new Date("2026-12-15T09:30:00Z"),
      end: new Date("2027-01-15T09:30:00Z"),
    });
  });
});
