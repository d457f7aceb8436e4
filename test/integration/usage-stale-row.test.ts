import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";
import { blockedBy } from "../helpers/row-lock-gate";

/**
 * A single-statement write that waited for the cache row while another write raised its count
 * computes its new count from the row it locked, not from its snapshot's older version:
 * PostgreSQL checks `count >= 0` on the row computed from that version before it recomputes
 * from the latest, so a decrement of a count that is 1 by then was refused as "below zero".
 */
const { prisma, pool } = testDatabase();
const services = createBillingServices(prisma, { pool });

describe("a decrement that waited on a row a concurrent write raised from 0", () => {
  it.each([
    ["increment", (orgId: string) => services.usage.increment(orgId, "members", -1n, "member_removed").then((r) => r.count)],
    [
      "consume",
      (orgId: string) =>
        services.entitlements.consume(orgId, "member.remove", { idempotencyKey: `stale-${uniqueSuffix()}` }).then((r) => r.used),
    ],
  ])("%s applies it against the committed count", async (_, decrement) => {
    const org = await newOrg(prisma);
    await services.usage.increment(org.id, "members", 1n, "member_added");
    await services.usage.increment(org.id, "members", -1n, "member_removed"); // the row exists, at 0
    const writer = await pool.connect();
    try {
      // A member.add held open: the row is locked and will be 1 when it commits.
      await writer.query("BEGIN");
      await writer.query(
        `INSERT INTO usage_ledger (org_id, metric, delta, reason, actor) VALUES ($1, 'members', 1, 'member_added', 'vitest')`,
        [org.id],
      );
      await writer.query(`UPDATE usage_cache SET count = count + 1 WHERE org_id = $1 AND metric = 'members'`, [org.id]);
      const pid = (await writer.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid as number;

      // The decrement's statement takes its snapshot (count 0) and waits for the row.
      const outcome = decrement(org.id).then(
        (count) => ({ ok: true as const, count }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      await expect.poll(() => blockedBy(pool, pid), { timeout: 60_000, interval: 25 }).toBeGreaterThanOrEqual(1);
      await writer.query("COMMIT");

      const settled = await outcome;
      if (!settled.ok) throw settled.error;
      expect(settled.count).toBe(0n);
    } finally {
      await writer.query("ROLLBACK").catch(() => undefined);
      writer.release();
    }
    expect(await services.usage.verify(org.id)).toEqual([]);
  });
});
