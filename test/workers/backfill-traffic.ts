/**
 * Live traffic for test/integration/backfill-concurrency.test.ts, in its own OS process: the
 * host app adding and removing members and teams, each row change in the SAME transaction
 * as the usage it counts (through `increment` with `tx`, or `consume` with `tx`). Runs until
 * its stdin closes; prints "ready" after its first committed change, then one JSON line.
 */
import { randomUUID } from "node:crypto";

import { createBillingServices } from "@/server/billing";
import { BillingError } from "@/server/billing/errors";
import { createDatabase } from "@/server/db/client";
import type { Tx } from "@/server/db/tx";
import { Random } from "@/server/seed/prng";

const url = process.env.WORKER_DATABASE_URL as string;
const orgIds = JSON.parse(process.env.WORKER_ORG_IDS as string) as string[];
const prng = new Random(Number(process.env.WORKER_SEED), process.pid);
const random = () => prng.next();

const handle = createDatabase(url, { max: 4, applicationName: "backfill-traffic" });
const { usage, entitlements } = createBillingServices(handle.prisma);
const actor = `traffic-${process.pid}`;
const counts = { committed: 0, refused: 0, denied: 0 };
let stopping = false;
let ready = false;
process.stdin.on("data", () => undefined);
process.stdin.on("end", () => (stopping = true));
process.stdin.on("close", () => (stopping = true));

/** Refused inside the transaction: roll it back (the row change with it). */
class Refused extends Error {}

async function removeOne(tx: Tx, orgId: string, table: "members" | "teams"): Promise<boolean> {
  const rows = await tx.$queryRawUnsafe<{ id: string }[]>(
    `DELETE FROM ${table} WHERE id = (SELECT id FROM ${table} WHERE org_id = $1::uuid LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id::text`,
    orgId,
  );
  return rows.length > 0;
}

async function one(n: number): Promise<void> {
  const orgId = orgIds[Math.floor(random() * orgIds.length)] as string;
  const u = random();
  await handle.prisma.$transaction(
    async (tx) => {
      if (u < 0.35) {
        await tx.member.create({ data: { orgId, email: `${actor}-${n}@traffic.example`, name: `Traffic ${n}` } });
        await usage.increment(orgId, "members", 1n, "member_added", { tx, actor });
      } else if (u < 0.6) {
        if (!(await removeOne(tx, orgId, "members"))) throw new Refused();
        // Before the backfill reached this org its ledger says 0: the decrement is refused.
        await usage.increment(orgId, "members", -1n, "member_removed", { tx, actor }).catch((error: unknown) => {
          throw error instanceof BillingError ? new Refused() : error;
        });
      } else if (u < 0.75) {
        const result = await entitlements.consume(orgId, "member.add", { idempotencyKey: randomUUID(), actor, tx });
        if (!result.allowed) {
          counts.denied++;
          return;
        }
        await tx.member.create({ data: { orgId, email: `${actor}-${n}@traffic.example`, name: `Traffic ${n}` } });
      } else if (u < 0.88) {
        if (!(await removeOne(tx, orgId, "members"))) throw new Refused();
        await entitlements.consume(orgId, "member.remove", { idempotencyKey: randomUUID(), actor, tx }).catch((error: unknown) => {
          throw error instanceof BillingError ? new Refused() : error;
        });
      } else {
        await tx.team.create({ data: { orgId, name: `Traffic team ${n}` } });
        await usage.increment(orgId, "teams", 1n, "team_created", { tx, actor });
      }
    },
    { timeout: 30_000, maxWait: 10_000 },
  );
  counts.committed++;
}

let n = 0;
await Promise.all(
  Array.from({ length: 3 }, async () => {
    while (!stopping) {
      try {
        await one(n++);
      } catch (error) {
        if (error instanceof Refused) counts.refused++;
        else throw error;
      }
      if (!ready && counts.committed > 0) {
        ready = true;
        process.stdout.write("ready\n");
      }
    }
  }),
);
await handle.close();
process.stdout.write(`${JSON.stringify(counts)}\n`);
