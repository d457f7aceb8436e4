import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { createBillingClient, type BillingClient } from "@/client";
import { createBillingServices, type BillingServices } from "@/server/billing";
import type { ActionName } from "@/server/billing/actions";
import { ApiKeyService } from "@/server/billing/api-keys";
import type { Metric } from "@/server/billing/catalogue";
import type { ConsumeResult } from "@/server/billing/entitlement-service";
import { isBillingError } from "@/server/billing/errors";
import { createDatabase, db, type DatabaseHandle } from "@/server/db/client";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";
import { startRouteServer } from "../helpers/route-server";
import { holdRowLock } from "../helpers/row-lock-gate";

/**
 * README invariant 3 (an idempotency key names one piece of work, forever) through every
 * write procedure, and the consume contract at the last unit of a hard limit: every retry of
 * an applied key is its replay, however many copies race. The free plan's members limit is
 * hard 5, so "one seat left" is 4 members.
 */
const { prisma, pool } = testDatabase();
const setup = createBillingServices(prisma);
const BURST = 50;
const BURSTS = 10;
const SEATS = 5n;

/** The services over `handle` both ways consume can run: on the pg pool (the server) and through Prisma. */
const pathsOver = (handle: DatabaseHandle): [string, BillingServices][] => [
  ["the pg-pool path (as the server runs consume)", createBillingServices(handle.prisma, { pool: handle.pool })],
  ["the Prisma path", createBillingServices(handle.prisma)],
];

async function orgWithOneSeatLeft(): Promise<string> {
  const org = await newOrg(prisma);
  await setup.usage.increment(org.id, "members", SEATS - 1n, "member_added");
  return org.id;
}

/** Everything a write could change for one org: a replay or a CONFLICT must change none of it. */
async function stateOf(orgId: string) {
  const [ledger, cache, denials, outbox] = await Promise.all([
    prisma.usageLedger.findMany({ where: { orgId }, select: { id: true }, orderBy: { id: "asc" } }),
    prisma.usageCache.findMany({ where: { orgId }, select: { metric: true, count: true }, orderBy: { metric: "asc" } }),
    prisma.entitlementDenial.count({ where: { orgId } }),
    prisma.usageReportOutbox.count({ where: { orgId } }),
  ]);
  return { ledger: ledger.map((r) => r.id), cache, denials, outbox };
}

async function expectConsistent(orgId: string) {
  expect(await setup.usage.verify(orgId)).toEqual([]); // cache == SUM(ledger)
}

/**
 * Runs `fire` while the org's cache rows are held locked, and lets the calls go only once
 * `waiters` of them are observed waiting on the lock: the worst case of the race, every time.
 */
async function gated<T>(orgId: string, waiters: number, fire: () => Promise<T>): Promise<T> {
  const gate = await holdRowLock(pool, `SELECT 1 FROM usage_cache WHERE org_id = $1 FOR UPDATE`, [orgId]);
  let ended = false;
  const done = fire().finally(() => (ended = true));
  try {
    await gate.waitForWaiters(waiters, () => ended);
  } finally {
    await gate.release();
  }
  const queuedAll = !ended;
  const results = await done;
  expect(queuedAll, "every call of the burst reached the lock before it was released").toBe(true);
  return results;
}

/** Exactly one call applied; every other one answered as its replay: allowed, same entry. */
function expectOneAppliedRestReplayed(results: ConsumeResult[]) {
  const denied = results.filter((r) => !r.allowed).map((r) => r.reason?.message);
  expect(denied, "no call of the burst was denied").toEqual([]);
  const applied = results.filter((r) => !r.replayed);
  expect(applied).toHaveLength(1);
  const id = applied[0]?.entry?.id;
  expect(id).toBeDefined();
  expect(results.filter((r) => r.replayed && r.entry?.id === id)).toHaveLength(results.length - 1);
  return id as string;
}

async function expectBurstRecordedOnce(orgId: string, key: string) {
  expect(await prisma.usageLedger.count({ where: { orgId, idempotencyKey: key } })).toBe(1);
  expect(await prisma.entitlementDenial.count({ where: { orgId } })).toBe(0);
  expect((await prisma.usageCache.findUnique({ where: { orgId_metric: { orgId, metric: "members" } } }))?.count).toBe(SEATS);
  await expectConsistent(orgId);
}

describe("bursts on 50 connections", () => {
  // 50 connections, so all 50 calls of a burst are in the database at once; closed right
  // after the bursts (the suite's other files need connections too).
  const wide = createDatabase(inject("databaseUrl"), { max: BURST, applicationName: "vitest-consume-idem" });
  afterAll(() => wide.close());

  describe.each(pathsOver(wide))("consume at the last seat, 50 identical calls at once, on %s", (_, services) => {
    it(`${BURSTS} bursts (every other one held at the row lock until all ${BURST} wait): one applies, ${BURST - 1} replay, no denial`, async () => {
      for (let round = 0; round < BURSTS; round++) {
        const orgId = await orgWithOneSeatLeft();
        const key = `invite-accepted:${uniqueSuffix()}`;
        const fire = () =>
          Promise.all(
            Array.from({ length: BURST }, (_, i) =>
              services.entitlements.consume(orgId, "member.add", { idempotencyKey: key, actor: `retry-${i}` }),
            ),
          );
        const results = round % 2 === 0 ? await gated(orgId, BURST, fire) : await fire();
        expectOneAppliedRestReplayed(results);
        await expectBurstRecordedOnce(orgId, key);
      }
    }, 240_000);

    it("one key sent at once for two different works: one applies, its copies replay, the others are CONFLICT, nothing denied", async () => {
      const org = await newOrg(prisma);
      await setup.usage.increment(org.id, "members", SEATS - 1n, "member_added");
      await setup.usage.increment(org.id, "api_calls", 1n, "api_call");
      const key = `mixed-${uniqueSuffix()}`;
      const actions: ActionName[] = Array.from({ length: BURST }, (_, i) => (i % 2 ? "member.add" : "api.call"));
      const settled = await gated(org.id, BURST, () =>
        Promise.allSettled(actions.map((action) => services.entitlements.consume(org.id, action, { idempotencyKey: key }))),
      );
      const [stored] = await prisma.usageLedger.findMany({ where: { orgId: org.id, idempotencyKey: key } });
      const winner = stored?.metric === "members" ? "member.add" : "api.call";
      settled.forEach((outcome, i) => {
        if (actions[i] === winner) {
          expect(outcome).toMatchObject({ status: "fulfilled", value: { allowed: true, entry: { id: stored?.id } } });
        } else {
          expect(outcome).toMatchObject({ status: "rejected", reason: { code: "CONFLICT", reason: "idempotency_key_reused" } });
        }
      });
      expect(settled.filter((o) => o.status === "fulfilled" && !o.value.replayed)).toHaveLength(1);
      expect(await prisma.entitlementDenial.count({ where: { orgId: org.id } })).toBe(0);
      await expectConsistent(org.id);
    }, 120_000);

    it("one key sent at once through consume, increment and incrementMany for the same work: one applies, every other call replays, none fails", async () => {
      for (let round = 0; round < 3; round++) {
        const orgId = await orgWithOneSeatLeft();
        const key = `crossing-${uniqueSuffix()}`;
        const ops: Op[] = Array.from({ length: BURST }, (_, i): Op => {
          if (i % 3 === 0) return { via: "consume", action: "member.add" };
          if (i % 3 === 1) return { via: "increment", metric: "members", amount: 1n };
          return { via: "incrementMany", metric: "members", amount: 1n };
        });
        const outcomes = await gated(orgId, BURST, () => Promise.all(ops.map((op) => perform(services, orgId, key, op))));
        const applied = outcomes.filter((o) => o.kind === "applied");
        expect(applied).toHaveLength(1);
        const id = (applied[0] as { entryId: string }).entryId;
        expect(outcomes.filter((o) => o.kind === "replayed" && o.entryId === id)).toHaveLength(BURST - 1);
        await expectBurstRecordedOnce(orgId, key);
      }
    }, 240_000);

    it("a consume first in line for the row lock and an increment of the same key behind it: one applies, the other replays (no deadlock)", async () => {
      const orgId = await orgWithOneSeatLeft();
      const key = `order-${uniqueSuffix()}`;
      const gate = await holdRowLock(pool, `SELECT 1 FROM usage_cache WHERE org_id = $1 AND metric = 'members' FOR UPDATE`, [orgId]);
      const calls: Promise<Outcome>[] = [];
      let settled: PromiseSettledResult<Outcome>[];
      try {
        calls.push(perform(services, orgId, key, { via: "consume", action: "member.add" }));
        await gate.waitForWaiters(1); // the consume's statement waits on the row, ahead of…
        calls.push(perform(services, orgId, key, { via: "increment", metric: "members", amount: 1n }));
        await gate.waitForWaiters(2); // …the increment's
      } finally {
        await gate.release();
        settled = await Promise.allSettled(calls);
      }
      expect(settled.map((s) => (s.status === "fulfilled" ? s.value.kind : String(s.reason))).sort()).toEqual(["applied", "replayed"]);
      await expectBurstRecordedOnce(orgId, key);
    }, 60_000);
  });
});

/* ---------------------------------------------------------------------------------------
 * The conflict matrix: a key used first by one write, then reused by another.
 * ------------------------------------------------------------------------------------- */

type Op =
  | { via: "increment"; metric: Metric; amount: bigint }
  | { via: "incrementMany"; metric: Metric; amount: bigint }
  | { via: "consume"; action: ActionName; amount?: bigint };

type Outcome = { kind: "applied" | "replayed"; entryId: string } | { kind: "conflict" | "denied"; reason: string };

async function perform(services: BillingServices, orgId: string, key: string, op: Op): Promise<Outcome> {
  try {
    if (op.via === "increment") {
      const r = await services.usage.increment(orgId, op.metric, op.amount, "test", { idempotencyKey: key });
      return { kind: r.replayed ? "replayed" : "applied", entryId: r.entry.id };
    }
    if (op.via === "incrementMany") {
      const [r] = await services.usage.incrementMany([
        { orgId, metric: op.metric, amount: op.amount, reason: "test", idempotencyKey: key },
      ]);
      if (r?.status === "applied") return { kind: "applied", entryId: r.entry.id };
      if (r?.status === "duplicate") return { kind: "replayed", entryId: r.entryId as string };
      return { kind: "conflict", reason: r?.status === "rejected" ? r.reason.code : "?" };
    }
    const r = await services.entitlements.consume(orgId, op.action, { amount: op.amount, idempotencyKey: key });
    if (!r.allowed) return { kind: "denied", reason: r.reason?.code ?? "?" };
    return { kind: r.replayed ? "replayed" : "applied", entryId: r.entry?.id as string };
  } catch (error) {
    if (isBillingError(error) && error.code === "CONFLICT") return { kind: "conflict", reason: error.reason };
    throw error;
  }
}

const FIRST = {
  "increment api_calls +2": { via: "increment", metric: "api_calls", amount: 2n },
  "consume api.call ×2": { via: "consume", action: "api.call", amount: 2n },
  "consume member.add": { via: "consume", action: "member.add" },
} satisfies Record<string, Op>;

const REPLAY = "replay" as const;
const CONFLICT = "conflict" as const;
const MATRIX: [keyof typeof FIRST, string, Op, typeof REPLAY | typeof CONFLICT][] = [
  ["increment api_calls +2", "the same call", { via: "increment", metric: "api_calls", amount: 2n }, REPLAY],
  ["increment api_calls +2", "another amount", { via: "increment", metric: "api_calls", amount: 5n }, CONFLICT],
  ["increment api_calls +2", "another metric", { via: "increment", metric: "members", amount: 2n }, CONFLICT],
  ["increment api_calls +2", "consume of the same work (api.call ×2)", { via: "consume", action: "api.call", amount: 2n }, REPLAY],
  ["increment api_calls +2", "consume api.call ×5", { via: "consume", action: "api.call", amount: 5n }, CONFLICT],
  ["increment api_calls +2", "consume member.add", { via: "consume", action: "member.add" }, CONFLICT],
  ["increment api_calls +2", "an incrementMany event of the same work", { via: "incrementMany", metric: "api_calls", amount: 2n }, REPLAY],
  [
    "increment api_calls +2",
    "an incrementMany event of another amount",
    { via: "incrementMany", metric: "api_calls", amount: 3n },
    CONFLICT,
  ],
  ["consume api.call ×2", "the same call", { via: "consume", action: "api.call", amount: 2n }, REPLAY],
  ["consume api.call ×2", "another amount", { via: "consume", action: "api.call", amount: 5n }, CONFLICT],
  ["consume api.call ×2", "another action (member.add)", { via: "consume", action: "member.add" }, CONFLICT],
  ["consume api.call ×2", "increment of the same work (api_calls +2)", { via: "increment", metric: "api_calls", amount: 2n }, REPLAY],
  ["consume api.call ×2", "increment api_calls +5", { via: "increment", metric: "api_calls", amount: 5n }, CONFLICT],
  ["consume api.call ×2", "an incrementMany event of the same work", { via: "incrementMany", metric: "api_calls", amount: 2n }, REPLAY],
  ["consume api.call ×2", "an incrementMany event of another metric", { via: "incrementMany", metric: "members", amount: 2n }, CONFLICT],
  ["consume member.add", "the same call", { via: "consume", action: "member.add" }, REPLAY],
  ["consume member.add", "another amount (member.add ×2)", { via: "consume", action: "member.add", amount: 2n }, CONFLICT],
  ["consume member.add", "the opposite sign (member.remove)", { via: "consume", action: "member.remove" }, CONFLICT],
  ["consume member.add", "another action (team.create)", { via: "consume", action: "team.create" }, CONFLICT],
  ["consume member.add", "increment of the same work (members +1)", { via: "increment", metric: "members", amount: 1n }, REPLAY],
  ["consume member.add", "increment members −1", { via: "increment", metric: "members", amount: -1n }, CONFLICT],
  ["consume member.add", "increment api_calls +1", { via: "increment", metric: "api_calls", amount: 1n }, CONFLICT],
  ["consume member.add", "an incrementMany event of the same work", { via: "incrementMany", metric: "members", amount: 1n }, REPLAY],
  ["consume member.add", "an incrementMany event of the opposite sign", { via: "incrementMany", metric: "members", amount: -1n }, CONFLICT],
];

describe.each(pathsOver(testDatabase()))("a key reused, on %s", (_, services) => {
  it.each(MATRIX)("used by %s, then by %s → %s, and changes nothing", async (firstName, _reuse, reuse, expected) => {
    const orgId = await orgWithOneSeatLeft();
    const key = `k-${uniqueSuffix()}`;
    const first = await perform(services, orgId, key, FIRST[firstName]);
    expect(first.kind).toBe("applied");
    const before = await stateOf(orgId);

    const again = await perform(services, orgId, key, reuse);
    if (expected === REPLAY) expect(again).toEqual({ kind: "replayed", entryId: (first as { entryId: string }).entryId });
    else expect(again).toEqual({ kind: "conflict", reason: "idempotency_key_reused" });
    expect(await stateOf(orgId)).toEqual(before);
    await expectConsistent(orgId);
  });

  it("a key repeated inside one batch: the same work is a duplicate, other work is rejected; atomic, nothing is written", async () => {
    const org = await newOrg(prisma);
    const key = `b-${uniqueSuffix()}`;
    const event = (amount: bigint, metric: Metric = "api_calls") => ({
      orgId: org.id,
      metric,
      amount,
      reason: "api_call",
      idempotencyKey: key,
    });
    const before = await stateOf(org.id);
    await expect(services.usage.incrementMany([event(2n), event(5n)], { atomic: true })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      reason: "batch_rejected",
    });
    expect(await stateOf(org.id)).toEqual(before);

    const results = await services.usage.incrementMany([event(2n), event(5n), event(2n, "members"), event(2n)]);
    expect(results).toMatchObject([
      { status: "applied" },
      { status: "rejected", reason: { code: "idempotency_key_reused" } },
      { status: "rejected", reason: { code: "idempotency_key_reused" } },
      { status: "duplicate", duplicateOf: "batch" },
    ]);
    expect(await prisma.usageLedger.count({ where: { orgId: org.id } })).toBe(1);
    await expectConsistent(org.id);
  });

  it("a key whose consume was denied wrote nothing: its retry is decided afresh, for any work", async () => {
    const orgId = await orgWithOneSeatLeft();
    await setup.usage.increment(orgId, "members", 1n, "member_added"); // full
    const key = `denied-${uniqueSuffix()}`;
    expect(await perform(services, orgId, key, { via: "consume", action: "member.add" })).toEqual({
      kind: "denied",
      reason: "limit_exceeded",
    });
    expect(await perform(services, orgId, key, { via: "consume", action: "member.add" })).toEqual({
      kind: "denied",
      reason: "limit_exceeded",
    });
    await setup.usage.increment(orgId, "members", -1n, "member_removed"); // a seat frees up
    const applied = await perform(services, orgId, key, { via: "consume", action: "member.add" });
    expect(applied.kind).toBe("applied");
    expect(await perform(services, orgId, key, { via: "consume", action: "member.add" })).toEqual({ ...applied, kind: "replayed" });

    // Denied for one action, the key is still free for another one.
    const other = `denied-${uniqueSuffix()}`;
    expect(await perform(services, orgId, other, { via: "consume", action: "member.add" })).toMatchObject({ kind: "denied" });
    expect(await perform(services, orgId, other, { via: "consume", action: "api.call" })).toMatchObject({ kind: "applied" });
    expect(await prisma.entitlementDenial.count({ where: { orgId } })).toBe(3);
    await expectConsistent(orgId);
  });

  it("inside the caller's transaction too: the same work replays, other work is a CONFLICT", async () => {
    const orgId = await orgWithOneSeatLeft();
    const key = `tx-${uniqueSuffix()}`;
    const first = await services.entitlements.consume(orgId, "member.add", { idempotencyKey: key });
    const before = await stateOf(orgId);
    const replay = await prisma.$transaction((tx) => services.entitlements.consume(orgId, "member.add", { idempotencyKey: key, tx }));
    expect(replay).toMatchObject({ allowed: true, replayed: true, entry: { id: first.entry?.id } });
    await expect(
      prisma.$transaction((tx) => services.entitlements.consume(orgId, "api.call", { idempotencyKey: key, tx })),
    ).rejects.toMatchObject({ code: "CONFLICT", reason: "idempotency_key_reused" });
    await expect(
      prisma.$transaction((tx) => services.usage.increment(orgId, "members", 2n, "member_added", { idempotencyKey: key, tx })),
    ).rejects.toMatchObject({ code: "CONFLICT", reason: "idempotency_key_reused" });
    expect(await stateOf(orgId)).toEqual(before);
  });
});

/* ---------------------------------------------------------------------------------------
 * Over HTTP, through the app's real /api/trpc route and the typed client.
 * ------------------------------------------------------------------------------------- */

describe("over HTTP through the real route", () => {
  let close: () => Promise<void>;
  let client: BillingClient;
  beforeAll(async () => {
    const server = await startRouteServer();
    close = server.close;
    const { secret } = await new ApiKeyService(prisma).create({
      name: `consume-idem-${uniqueSuffix()}`,
      scopes: ["entitlements:read", "usage:write", "usage:read"],
      createdBy: "vitest",
    });
    // One HTTP request per call, as separate retries of the product app arrive.
    client = createBillingClient({ url: `${server.origin}/api/trpc`, apiKey: secret, batch: false });
  });
  afterAll(async () => {
    await close?.();
    await db().close(); // the route's process-wide pool
  });

  it("a key reused for other work is CONFLICT with data.reason idempotency_key_reused, and changes nothing", async () => {
    const orgId = await orgWithOneSeatLeft();
    const key = `http-${uniqueSuffix()}`;
    const first = await client.billing.entitlements.consume.mutate({ orgId, action: "api.call", amount: 2, idempotencyKey: key });
    expect(first).toMatchObject({ allowed: true, replayed: false });
    const before = await stateOf(orgId);

    for (const reuse of [
      () => client.billing.entitlements.consume.mutate({ orgId, action: "member.add", idempotencyKey: key }),
      () => client.billing.usage.increment.mutate({ orgId, metric: "api_calls", amount: 5, reason: "api_call", idempotencyKey: key }),
    ]) {
      const error = await reuse().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TRPCClientError);
      expect((error as TRPCClientError<never>).data).toMatchObject({ code: "CONFLICT", httpStatus: 409, reason: "idempotency_key_reused" });
    }
    const batch = await client.billing.usage.incrementMany.mutate({
      events: [{ orgId, metric: "members", amount: 2, reason: "member_added", idempotencyKey: key }],
    });
    expect(batch.results).toMatchObject([{ status: "rejected", reason: { code: "idempotency_key_reused" } }]);
    expect(await client.billing.entitlements.consume.mutate({ orgId, action: "api.call", amount: 2, idempotencyKey: key })).toMatchObject({
      allowed: true,
      replayed: true,
      entry: { id: first.entry?.id },
    });
    expect(await stateOf(orgId)).toEqual(before);
  });

  it(`${BURST} identical consumes at the last seat as ${BURST} requests, held at the row lock: one applies, the rest replay`, async () => {
    const orgId = await orgWithOneSeatLeft();
    const key = `http-burst-${uniqueSuffix()}`;
    // As many as the server's pool lets into the database at once (DATABASE_POOL_SIZE).
    const inDatabase = Math.min(BURST, db().pool.options.max ?? BURST);
    const results = await gated(orgId, inDatabase, () =>
      Promise.all(
        Array.from({ length: BURST }, () =>
          client.billing.entitlements.consume.mutate({ orgId, action: "member.add", idempotencyKey: key }),
        ),
      ),
    );
    expectOneAppliedRestReplayed(results as ConsumeResult[]);
    await expectBurstRecordedOnce(orgId, key);
  }, 120_000);
});
