import { randomUUID } from "node:crypto";

import type { BillingServices } from "@/server/billing";
import type { ActionName } from "@/server/billing/actions";
import { BillingError } from "@/server/billing/errors";
import type { PrismaClient } from "@/server/db/client";
import type { Tx } from "@/server/db/tx";

/**
 * The product app during the rehearsal's Phase B: members added and removed, files uploaded
 * and deleted, each row change in the SAME transaction as its `consume` — the contract every
 * writer follows from the switchover on. `uncounted` is the opposite: a forgotten code path
 * that changes rows and counts nothing (the rehearsal's proof that its checks can fail).
 */

export interface WorkloadCounts {
  /** Transactions that committed a row change together with its consume. */
  consumesApplied: number;
  /** consume said no (a limit): nothing changed. */
  denied: number;
  /** A decrement the ledger refused (an org the backfill had not reached: its gauge says 0); rolled back. */
  refused: number;
  /** Nothing to remove in the org picked. */
  idle: number;
  membersAdded: number;
  membersRemoved: number;
  filesUploaded: number;
  filesDeleted: number;
  /** Rows changed WITHOUT counting (only in `uncounted` mode). */
  uncountedWrites: number;
  /** Anything else went wrong (the rehearsal fails on any). */
  errors: number;
  firstError?: string;
}

export const emptyWorkloadCounts = (): WorkloadCounts => ({
  consumesApplied: 0,
  denied: 0,
  refused: 0,
  idle: 0,
  membersAdded: 0,
  membersRemoved: 0,
  filesUploaded: 0,
  filesDeleted: 0,
  uncountedWrites: 0,
  errors: 0,
});

/** The actor of every ledger row the workload writes: `rehearsal-traffic:<pid>`. */
export const TRAFFIC_ACTOR_PREFIX = "rehearsal-traffic:";

export interface WorkloadOptions {
  prisma: PrismaClient;
  services: BillingServices;
  orgIds: readonly string[];
  /** Uniform in [0, 1). */
  random: () => number;
  /** Transactions in flight at once (each holds a connection). */
  loops: number;
  actor: string;
  uncounted?: boolean;
  shouldStop: () => boolean;
  /** After each committed transaction. */
  onCommitted?: () => void;
}

/** The row change a committed transaction made; "denied": none (only the denial is recorded). */
type Change = "membersAdded" | "membersRemoved" | "filesUploaded" | "filesDeleted" | "uncountedWrites" | "denied";

/** A refusal inside the transaction: throwing it rolls the row change back with it. */
class Refused extends Error {}
class Idle extends Error {}

const KiB = 1024;

/**
 * Deletes one row of the org (one nobody else holds) and returns its size (files) or 1.
 * Only files with bytes: deleting an empty one frees nothing and would have nothing to count.
 */
async function removeOne(tx: Tx, orgId: string, table: "members" | "stored_files"): Promise<bigint | null> {
  const [size, nonEmpty] = table === "stored_files" ? ["size_bytes", "AND size_bytes > 0"] : ["1", ""];
  const rows = await tx.$queryRawUnsafe<{ amount: bigint }[]>(
    `DELETE FROM ${table} WHERE id = (SELECT id FROM ${table} WHERE org_id = $1::uuid ${nonEmpty} LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING ${size}::bigint AS amount`,
    orgId,
  );
  return rows[0]?.amount ?? null;
}

export async function runWorkload(options: WorkloadOptions): Promise<WorkloadCounts> {
  const counts = emptyWorkloadCounts();
  const { prisma, services, orgIds, random, actor } = options;
  let serial = 0;

  /** True when allowed (and counted); a denial is an answer, recorded by consume, not an error. */
  const consume = async (tx: Tx, orgId: string, action: ActionName, amount?: bigint): Promise<boolean> => {
    const result = await services.entitlements
      .consume(orgId, action, { amount, idempotencyKey: randomUUID(), actor, tx })
      .catch((error: unknown) => {
        // A decrement below zero: the org's ledger does not know its rows yet.
        throw error instanceof BillingError && error.code === "CONFLICT" ? new Refused() : error;
      });
    return result.allowed;
  };

  const counted = async (tx: Tx, orgId: string, u: number, n: number): Promise<Change> => {
    if (u < 0.35) {
      if (!(await consume(tx, orgId, "member.add"))) return "denied";
      await tx.member.create({ data: { orgId, email: `${actor}-${n}@rehearsal.example`, name: `Rehearsal ${n}` } });
      return "membersAdded";
    }
    if (u < 0.55) {
      if ((await removeOne(tx, orgId, "members")) === null) throw new Idle();
      await consume(tx, orgId, "member.remove");
      return "membersRemoved";
    }
    if (u < 0.85) {
      const size = BigInt(KiB + Math.floor(random() * 4 * 1024 * KiB));
      if (!(await consume(tx, orgId, "file.upload", size))) return "denied";
      await tx.storedFile.create({ data: { orgId, name: `rehearsal-${n}.bin`, sizeBytes: size } });
      return "filesUploaded";
    }
    const size = await removeOne(tx, orgId, "stored_files");
    if (size === null) throw new Idle();
    await consume(tx, orgId, "file.delete", size);
    return "filesDeleted";
  };

  /** The old app's way: the row changes, nothing is counted. */
  const uncounted = async (tx: Tx, orgId: string, n: number): Promise<Change> => {
    await tx.member.create({ data: { orgId, email: `${actor}-uncounted-${n}@rehearsal.example`, name: `Uncounted ${n}` } });
    return "uncountedWrites";
  };

  const loop = async () => {
    while (!options.shouldStop()) {
      const orgId = orgIds[Math.floor(random() * orgIds.length)] as string;
      const u = random();
      const n = serial++;
      try {
        const done = await prisma.$transaction((tx) => (options.uncounted ? uncounted(tx, orgId, n) : counted(tx, orgId, u, n)), {
          timeout: 60_000,
          maxWait: 30_000,
        });
        counts[done]++;
        if (done !== "denied" && done !== "uncountedWrites") counts.consumesApplied++;
        options.onCommitted?.();
      } catch (error) {
        if (error instanceof Refused) counts.refused++;
        else if (error instanceof Idle) counts.idle++;
        else {
          counts.errors++;
          counts.firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.loops) }, loop));
  return counts;
}
