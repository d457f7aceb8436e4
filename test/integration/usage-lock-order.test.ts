import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { ledgerInsertCtesText } from "@/server/billing/ledger-insert-sql";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";
import { blockedBy } from "../helpers/row-lock-gate";

/**
 * The lock order every usage write keeps: the (org, metric) cache row first, the idempotency
 * key after. A write that claimed the key first and then waited for a cache row another
 * transaction was creating — while that transaction, as incrementMany does, went on to claim
 * the same key — was a deadlock: PostgreSQL killed one of them (40P01, a 500).
 */
const { prisma, pool } = testDatabase();
const services = createBillingServices(prisma, { pool });

describe("usage writes take the cache row before the key", () => {
  it("an increment of a key whose cache row a batch is creating waits for the row without claiming the key: the batch applies it, the increment replays it", async () => {
    const org = await newOrg(prisma);
    const key = `lock-order-${uniqueSuffix()}`;
    const batch = await pool.connect();
    try {
      // The batch's steps, held open: create the (org, members) cache row…
      await batch.query("BEGIN");
      await batch.query(`INSERT INTO usage_cache (org_id, metric, count) VALUES ($1, 'members', 0)`, [org.id]);
      const pid = (await batch.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid as number;

      // …while an increment of the same work arrives and waits on that row.
      const increment = services.usage.increment(org.id, "members", 1n, "test", { idempotencyKey: key });
      const outcome = increment.then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e }),
      );
      await expect.poll(() => blockedBy(pool, pid), { timeout: 60_000, interval: 25 }).toBeGreaterThanOrEqual(1);

      // The batch now claims the key. Had the increment claimed it before waiting, this would
      // wait for the increment, which waits for us: deadlock detected after deadlock_timeout.
      const inserted = await batch.query<{ id: string }>(
        `WITH ${ledgerInsertCtesText("ins", `VALUES (gen_random_uuid(), $1::uuid, 'members', 1::bigint, 'test', $2::text, 'batch', '{}'::jsonb, now())`)}
         SELECT id::text FROM ins`,
        [org.id, key],
      );
      await batch.query(`UPDATE usage_cache SET count = count + 1 WHERE org_id = $1 AND metric = 'members'`, [org.id]);
      await batch.query("COMMIT");

      const settled = await outcome;
      if (!settled.ok) throw settled.e;
      expect(settled.r).toMatchObject({ replayed: true, count: 1n, entry: { id: inserted.rows[0]?.id } });
    } finally {
      await batch.query("ROLLBACK").catch(() => undefined);
      batch.release();
    }
    expect(await services.usage.verify(org.id)).toEqual([]);
  });

  it("a batch whose idempotency key a concurrent write commits for another metric after the batch was judged: judged again, never a failed statement", async () => {
    const org = await newOrg(prisma);
    await services.usage.increment(org.id, "members", 5n, "test_setup");
    const key = `raced-${uniqueSuffix()}`;
    const other = await pool.connect();
    try {
      // Another writer holds `key` for teams, uncommitted (its own row, teams, locked first).
      await other.query("BEGIN");
      await other.query(`INSERT INTO usage_cache (org_id, metric, count) VALUES ($1, 'teams', 0)`, [org.id]);
      await other.query(
        `WITH ${ledgerInsertCtesText("ins", `VALUES (gen_random_uuid(), $1::uuid, 'teams', 1::bigint, 'test', $2::text, 'other', '{}'::jsonb, now())`)}
         SELECT 1 FROM ins`,
        [org.id, key],
      );
      await other.query(`UPDATE usage_cache SET count = count + 1 WHERE org_id = $1 AND metric = 'teams'`, [org.id]);
      const pid = (await other.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid as number;

      // The batch sees members = 5 and no such key: +5 with the key, then −8, judged in order,
      // both fit. Its insert then waits for the other writer's key.
      const batch = services.usage
        .incrementMany([
          { orgId: org.id, metric: "members", amount: 5n, reason: "test", idempotencyKey: key },
          { orgId: org.id, metric: "members", amount: -8n, reason: "test" },
        ])
        .then(
          (r) => ({ ok: true as const, r }),
          (e: unknown) => ({ ok: false as const, e }),
        );
      await expect.poll(() => blockedBy(pool, pid), { timeout: 60_000, interval: 25 }).toBeGreaterThanOrEqual(1);
      await other.query("COMMIT");

      // The key's event is dropped by ON CONFLICT, so −8 alone would take members to −3.
      const settled = await batch;
      if (!settled.ok) throw settled.e;
      expect(settled.r.map((r) => (r.status === "rejected" ? r.reason.code : r.status))).toEqual([
        "idempotency_key_reused",
        "gauge_below_zero",
      ]);
    } finally {
      await other.query("ROLLBACK").catch(() => undefined);
      other.release();
    }
    expect(await services.usage.getUsage(org.id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ metric: "members", count: 5n })]),
    );
    expect(await services.usage.verify(org.id)).toEqual([]);
  });
});
