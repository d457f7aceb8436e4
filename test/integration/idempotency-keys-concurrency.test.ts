import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";

import { newOrg, testDatabase, uniqueSuffix, unlimitedOverride } from "../helpers/db";

/**
 * Idempotency forever lives in usage_idempotency_keys since the ledger is partitioned by
 * month (a partitioned table's unique keys must contain its partition key). One key sent at
 * once on real parallel connections, through every write path that claims it there, applies
 * exactly once: one key row, one ledger row, one cache step; every other call is a replay.
 */

const { prisma, pool } = testDatabase();
const billing = createBillingServices(prisma, { pool });

describe("usage_idempotency_keys under concurrent replays", () => {
  it("24 calls with one key across increment, consume and incrementMany apply it exactly once", async () => {
    const org = await newOrg(prisma);
    await unlimitedOverride(prisma, org.id, "api_calls");
    await unlimitedOverride(prisma, org.id, "api_calls_hourly");
    const key = `one-key-${uniqueSuffix()}`;
    const calls = Array.from({ length: 24 }, async (_, i) => {
      if (i % 3 === 0) return (await billing.usage.increment(org.id, "api_calls", 1n, "api_call", { idempotencyKey: key })).replayed;
      if (i % 3 === 1) return (await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: key })).replayed;
      const [result] = await billing.usage.incrementMany([
        { orgId: org.id, metric: "api_calls", amount: 1n, reason: "api_call", idempotencyKey: key },
      ]);
      return result?.status === "duplicate";
    });
    const replayed = await Promise.all(calls);
    expect(replayed.filter((r) => !r)).toHaveLength(1);

    const { rows } = await pool.query<{ keys: string; ledger: string; cache: string }>(
      `SELECT (SELECT count(*) FROM usage_idempotency_keys WHERE org_id = $1 AND idempotency_key = $2)::text AS keys,
              (SELECT count(*) FROM usage_ledger WHERE org_id = $1 AND idempotency_key = $2)::text AS ledger,
              (SELECT count::text FROM usage_cache WHERE org_id = $1 AND metric = 'api_calls') AS cache`,
      [org.id, key],
    );
    expect(rows[0]).toEqual({ keys: "1", ledger: "1", cache: "1" });
    // The key row points at the ledger row it claimed for.
    const { rows: pointed } = await pool.query(
      `SELECT 1 FROM usage_idempotency_keys k JOIN usage_ledger l ON l.id = k.ledger_id AND l.timestamp = k.ledger_timestamp
       WHERE k.org_id = $1 AND k.idempotency_key = $2 AND l.metric = k.metric AND l.delta = k.delta AND l.reason = k.reason`,
      [org.id, key],
    );
    expect(pointed).toHaveLength(1);
    expect(await billing.usage.verify(org.id)).toEqual([]);
  });
});
