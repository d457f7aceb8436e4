import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { BillingError } from "@/server/billing/errors";

import { newOrg, newSubscription, testDatabase, uniqueSuffix } from "../helpers/db";
import { waitFor } from "../helpers/wait";

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);
const usage = billing.usage;

async function ledgerSum(orgId: string, metric: string): Promise<bigint> {
  const [row] = await prisma.$queryRaw<{ total: bigint }[]>`
    SELECT COALESCE(SUM(delta), 0)::bigint AS total FROM usage_ledger WHERE org_id = ${orgId}::uuid AND metric = ${metric}`;
  return row?.total ?? 0n;
}

async function ledgerRows(orgId: string): Promise<number> {
  return prisma.usageLedger.count({ where: { orgId } });
}

describe("UsageService.increment", () => {
  it("writes the ledger row and the cache together", async () => {
    const org = await newOrg(prisma);
    const first = await usage.increment(org.id, "members", 3n, "member_added", { actor: "test" });
    expect(first).toMatchObject({ count: 3n, replayed: false, entry: { orgId: org.id, metric: "members", delta: 3n, actor: "test" } });
    const second = await usage.increment(org.id, "members", -1n, "member_removed");
    expect(second.count).toBe(2n);
    expect(await ledgerSum(org.id, "members")).toBe(2n);
    expect(await usage.verify(org.id)).toEqual([]);
  });

  it("applies an idempotency key once, forever, and replays the original", async () => {
    const org = await newOrg(prisma);
    const key = `k-${uniqueSuffix()}`;
    const applied = await usage.increment(org.id, "api_calls", 7n, "api_call", { idempotencyKey: key });
    await usage.increment(org.id, "api_calls", 1n, "api_call");
    const replay = await usage.increment(org.id, "api_calls", 7n, "api_call", { idempotencyKey: key });
    expect(replay.replayed).toBe(true);
    expect(replay.entry.id).toBe(applied.entry.id);
    expect(replay.count).toBe(8n);
    expect(await ledgerRows(org.id)).toBe(2);
  });

  it("refuses a reused key with a different amount", async () => {
    const org = await newOrg(prisma);
    await usage.increment(org.id, "teams", 1n, "team_created", { idempotencyKey: "same" });
    await expect(usage.increment(org.id, "teams", 2n, "team_created", { idempotencyKey: "same" })).rejects.toMatchObject({
      code: "CONFLICT",
      reason: "idempotency_key_reused",
    });
  });

  it("the same key sent 20 times in parallel makes one ledger row", async () => {
    const org = await newOrg(prisma);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => usage.increment(org.id, "members", 1n, "member_added", { idempotencyKey: "burst" })),
    );
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(results.map((r) => r.entry.id)).size).toBe(1);
    expect(await ledgerRows(org.id)).toBe(1);
    expect(await usage.verify(org.id)).toEqual([]);
  });

  it("refuses a gauge below zero with a typed error and writes nothing", async () => {
    const org = await newOrg(prisma);
    await usage.increment(org.id, "members", 2n, "member_added");
    const error = await usage.increment(org.id, "members", -3n, "member_removed").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BillingError);
    expect(error).toMatchObject({ code: "CONFLICT", reason: "gauge_below_zero" });
    expect(await ledgerRows(org.id)).toBe(1);
    expect((await usage.getUsage(org.id)).find((m) => m.metric === "members")?.count).toBe(2n);
  });

  it("an unknown org is NOT_FOUND; bad input is BAD_REQUEST; nothing is written", async () => {
    const before = await prisma.usageLedger.count();
    await expect(usage.increment("7b0f5d2e-1c4a-4b7e-9a51-3f6f0f1d2c3b", "members", 1n, "member_added")).rejects.toMatchObject({
      code: "NOT_FOUND",
      reason: "org_not_found",
    });
    const org = await newOrg(prisma);
    for (const bad of [
      () => usage.increment(org.id, "members", 0n, "member_added"),
      () => usage.increment(org.id, "bogus" as never, 1n, "member_added"),
      () => usage.increment(org.id, "members", 1n, "Not Snake"),
      () => usage.increment("not-a-uuid", "members", 1n, "member_added"),
    ]) {
      await expect(bad()).rejects.toMatchObject({ code: "BAD_REQUEST" });
    }
    expect(await ledgerRows(org.id)).toBe(0);
    expect(await prisma.usageLedger.count()).toBeGreaterThanOrEqual(before);
  });

  // A billing-period counter's increment reads the org's subscription first (its window), on
  // either runner: through Prisma (no pool) or straight on the pool (what the server wires).
  describe.each([
    ["through Prisma", billing],
    ["on the pool", createBillingServices(prisma, { pool: testDatabase().pool })],
  ])("a billing-period counter %s", (_label, services) => {
    it("an unknown org is NOT_FOUND and nothing is written", async () => {
      const unknown = randomUUID();
      await expect(services.usage.increment(unknown, "api_calls", 1n, "api_call")).rejects.toMatchObject({
        code: "NOT_FOUND",
        reason: "org_not_found",
      });
      expect(await ledgerRows(unknown)).toBe(0);
    });

    it("counts in the subscription's period, or in the calendar month without one", async () => {
      const windowStart = async (orgId: string) =>
        (await prisma.usageCache.findUniqueOrThrow({ where: { orgId_metric: { orgId, metric: "api_calls" } } })).windowStart;
      const free = await newOrg(prisma);
      expect((await services.usage.increment(free.id, "api_calls", 2n, "api_call")).count).toBe(2n);
      const now = new Date();
      expect(await windowStart(free.id)).toEqual(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)));
      const paid = await newOrg(prisma);
      const periodStart = new Date(now.getTime() - 3 * 86_400_000);
      await newSubscription(prisma, paid.id, {
        currentPeriodStart: periodStart,
        currentPeriodEnd: new Date(periodStart.getTime() + 30 * 86_400_000),
      });
      expect((await services.usage.increment(paid.id, "api_calls", 3n, "api_call")).count).toBe(3n);
      expect(await windowStart(paid.id)).toEqual(periodStart);
    });
  });

  it("joins the caller's transaction: a rolled-back member insert leaves no count", async () => {
    const org = await newOrg(prisma);
    await expect(
      prisma.$transaction(async (tx) => {
        await tx.member.create({ data: { orgId: org.id, email: "a@example.com", name: "A" } });
        await usage.increment(org.id, "members", 1n, "member_added", { tx });
        throw new Error("host app changed its mind");
      }),
    ).rejects.toThrow("changed its mind");
    expect(await prisma.member.count({ where: { orgId: org.id } })).toBe(0);
    expect(await ledgerRows(org.id)).toBe(0);

    await prisma.$transaction(async (tx) => {
      await tx.member.create({ data: { orgId: org.id, email: "a@example.com", name: "A" } });
      await usage.increment(org.id, "members", 1n, "member_added", { tx });
    });
    expect(await prisma.member.count({ where: { orgId: org.id } })).toBe(1);
    expect(await ledgerSum(org.id, "members")).toBe(1n);
  });

  it("the same key from increment and from a batch holding the cache row: one applies, the other replays (no deadlock)", async () => {
    // A client retrying a slow increment through incrementMany (or a batch carrying the key
    // while the increment is in flight). The batch locks the cache row first and then
    // inserts the key; increment used to insert the key first and then wait for the row,
    // so each waited for the other and PostgreSQL killed one (40P01, a 500).
    const serverPath = createBillingServices(prisma, { pool: testDatabase().pool }).usage;
    const org = await newOrg(prisma);
    await usage.increment(org.id, "members", 3n, "member_added");
    let increment: Promise<Awaited<ReturnType<typeof usage.increment>>> | undefined;
    const batch = await prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM usage_cache WHERE org_id = ${org.id}::uuid AND metric = 'members' FOR UPDATE`;
      const [{ pid }] = await tx.$queryRaw<[{ pid: number }]>`SELECT pg_backend_pid() AS pid`;
      increment = serverPath.increment(org.id, "members", 1n, "member_added", { idempotencyKey: "retried" });
      increment.catch(() => undefined); // awaited below
      await expect
        .poll(
          async () =>
            (await prisma.$queryRaw<unknown[]>`SELECT 1 FROM pg_stat_activity WHERE ${pid}::int = ANY(pg_blocking_pids(pid))`).length,
          { timeout: 10_000 },
        )
        .toBeGreaterThan(0);
      return usage.incrementMany([{ orgId: org.id, metric: "members", amount: 1n, reason: "member_added", idempotencyKey: "retried" }], {
        tx,
      });
    });
    expect(batch[0]?.status).toBe("applied");
    const retried = await increment;
    expect(retried).toMatchObject({ replayed: true, count: 4n });
    expect(retried?.entry.id).toBe(batch[0]?.status === "applied" ? batch[0].entry.id : undefined);
    expect(await ledgerRows(org.id)).toBe(2);
    expect(await usage.verify(org.id)).toEqual([]);
  });

  it("storage above 2^31 (and near 2^62) is exact end to end", async () => {
    const org = await newOrg(prisma);
    const big = 5n * 2n ** 31n + 7n;
    await usage.increment(org.id, "storage_bytes", big, "file_upload");
    const huge = 2n ** 62n + 11n;
    const result = await usage.increment(org.id, "storage_bytes", huge, "file_upload");
    expect(result.count).toBe(big + huge);
    expect((await usage.getUsage(org.id)).find((m) => m.metric === "storage_bytes")?.count).toBe(big + huge);
    expect(await ledgerSum(org.id, "storage_bytes")).toBe(big + huge);
  });
});

describe("UsageService.incrementMany", () => {
  it("applies, deduplicates and rejects per event, in one transaction", async () => {
    const org = await newOrg(prisma);
    const other = await newOrg(prisma);
    await usage.increment(org.id, "teams", 1n, "team_created", { idempotencyKey: "historic" });
    const big = 3n * 2n ** 31n;
    const results = await usage.incrementMany([
      { orgId: org.id, metric: "storage_bytes", amount: big, reason: "file_upload", idempotencyKey: "f1" },
      { orgId: org.id, metric: "storage_bytes", amount: big, reason: "file_upload", idempotencyKey: "f1" },
      { orgId: org.id, metric: "teams", amount: 1, reason: "team_created", idempotencyKey: "historic" },
      { orgId: org.id, metric: "members", amount: -1, reason: "member_removed" },
      { orgId: org.id, metric: "nope", amount: 1, reason: "x" },
      { orgId: "1d6f5c1e-2b3a-4c5d-8e7f-9a0b1c2d3e4f", metric: "members", amount: 1, reason: "member_added" },
      { orgId: other.id, metric: "storage_bytes", amount: String(big), reason: "file_upload" },
      { orgId: org.id, metric: "storage_bytes", amount: big, reason: "file_upload", idempotencyKey: "f2" },
    ]);
    expect(results.map((r) => r.status)).toEqual([
      "applied",
      "duplicate",
      "duplicate",
      "rejected",
      "rejected",
      "rejected",
      "applied",
      "applied",
    ]);
    expect(results[3]).toMatchObject({ reason: { code: "gauge_below_zero" } });
    expect(results[4]).toMatchObject({ reason: { code: "invalid_input" } });
    expect(results[5]).toMatchObject({ reason: { code: "org_not_found" } });
    expect((await usage.getUsage(org.id)).find((m) => m.metric === "storage_bytes")?.count).toBe(2n * big);
    expect(await ledgerSum(other.id, "storage_bytes")).toBe(big);
    expect(await usage.verify(org.id)).toEqual([]);
    expect(await usage.verify(other.id)).toEqual([]);
  });

  it("all-or-nothing: one bad event writes nothing", async () => {
    const org = await newOrg(prisma);
    await expect(
      usage.incrementMany(
        [
          { orgId: org.id, metric: "members", amount: 1, reason: "member_added" },
          { orgId: org.id, metric: "members", amount: -5, reason: "member_removed" },
        ],
        { atomic: true },
      ),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", reason: "batch_rejected" });
    expect(await ledgerRows(org.id)).toBe(0);
  });

  it("orders events within the batch: an add then a remove of the same member is fine", async () => {
    const org = await newOrg(prisma);
    const results = await usage.incrementMany([
      { orgId: org.id, metric: "members", amount: 1, reason: "member_added" },
      { orgId: org.id, metric: "members", amount: -1, reason: "member_removed" },
      { orgId: org.id, metric: "members", amount: -1, reason: "member_removed" },
    ]);
    expect(results.map((r) => r.status)).toEqual(["applied", "applied", "rejected"]);
    expect(await usage.verify(org.id)).toEqual([]);
  });

  it("takes 10 000 events and refuses 10 001", async () => {
    const org = await newOrg(prisma);
    const events = Array.from({ length: 10_000 }, (_, i) => ({
      orgId: org.id,
      metric: "api_calls",
      amount: 1,
      reason: "api_call",
      idempotencyKey: `bulk-${i}`,
    }));
    const results = await usage.incrementMany(events);
    expect(results.every((r) => r.status === "applied")).toBe(true);
    expect(await ledgerSum(org.id, "api_calls")).toBe(10_000n);
    const again = await usage.incrementMany(events.slice(0, 100));
    expect(again.every((r) => r.status === "duplicate")).toBe(true);
    await expect(usage.incrementMany([...events, events[0]])).rejects.toMatchObject({ reason: "batch_too_large" });
  });
});

describe("UsageService.resetPeriod and verify", () => {
  it("brings a period counter to zero once per period", async () => {
    const org = await newOrg(prisma);
    await usage.increment(org.id, "api_calls", 40n, "api_call");
    // The new period starts a minute from now: all 40 calls belong to the old one.
    const periodStart = new Date(Date.now() + 60_000);
    const reset = await usage.resetPeriod(org.id, "api_calls", periodStart);
    expect(reset.count).toBe(0n);
    expect(reset.entry?.reason).toBe("window_reset");
    expect(reset.entry?.delta).toBe(-40n);
    const again = await usage.resetPeriod(org.id, "api_calls", new Date(periodStart.getTime()));
    expect(again.replayed).toBe(true);
    expect(again.entry?.id).toBe(reset.entry?.id);
    expect(await ledgerSum(org.id, "api_calls")).toBe(0n);
    await expect(usage.resetPeriod(org.id, "members", periodStart)).rejects.toMatchObject({ reason: "not_a_period_counter" });
  });

  it("reports drift when the cache is changed behind the ledger's back", async () => {
    const org = await newOrg(prisma);
    await usage.increment(org.id, "teams", 4n, "team_created");
    await prisma.$executeRaw`UPDATE usage_cache SET count = 6 WHERE org_id = ${org.id}::uuid AND metric = 'teams'`;
    expect(await usage.verify(org.id)).toEqual([{ orgId: org.id, metric: "teams", cache: 6n, ledger: 4n, drift: -2n }]);
    // Repair the way finance would: a correcting ledger row is not possible for a cache
    // error, so put the cache back; the ledger stays untouched.
    await prisma.$executeRaw`UPDATE usage_cache SET count = 4 WHERE org_id = ${org.id}::uuid AND metric = 'teams'`;
    expect(await usage.verify(org.id)).toEqual([]);
  });
});

describe("resetPeriod keeps usage recorded in the new period", () => {
  it("only the old period's usage is removed", async () => {
    const org = await newOrg(prisma);
    await usage.increment(org.id, "api_calls", 10n, "api_call");
    const periodStart = new Date(Date.now() - 1); // the new period began just now
    // The next row must be stamped at least 1 ms later (the boundary below): wait for the
    // database's clock to get there rather than sleeping.
    await waitFor("the database clock to pass the first row by 1 ms", async () => {
      const [row] = await prisma.$queryRaw<{ past: boolean }[]>`
        SELECT clock_timestamp() > max(timestamp) + interval '1 millisecond' AS past FROM usage_ledger WHERE org_id = ${org.id}::uuid`;
      return row?.past;
    });
    // Written in the new period (a later timestamp), before the reset ran.
    await usage.increment(org.id, "api_calls", 3n, "api_call");
    const [old] = await prisma.$queryRaw<{ ts: Date }[]>`SELECT min(timestamp) AS ts FROM usage_ledger WHERE org_id = ${org.id}::uuid`;
    const boundary = new Date((old?.ts ?? periodStart).getTime() + 1);
    const reset = await usage.resetPeriod(org.id, "api_calls", boundary);
    expect(reset.count).toBe(3n);
    expect(await ledgerSum(org.id, "api_calls")).toBe(3n);
  });
});
