import { randomUUID } from "node:crypto";

import type pg from "pg";

import type { BillingServices } from "@/server/billing";
import { FREE_PLAN_ID, planById } from "@/server/billing/catalogue";
import type { PrismaClient } from "@/server/db/client";

import { RehearsalError } from "./errors";

/**
 * Phase C, the switchover: the policy now answers from the backfilled counts. Each check
 * goes through `consume` in the same transaction as the row change it counts (the contract
 * every writer follows), on free-plan organizations (no subscription, no override), whose
 * hard limits come from the catalogue.
 */

export interface EnforcementCheck {
  name: string;
  ok: boolean;
  detail: string;
}

const ACTOR = "rehearsal-phase-c";

interface Candidate {
  id: string;
  members: number;
  bytes: bigint;
}

/** Free-plan orgs (no subscription row, no limit override) with their old counts. */
async function freeOrgs(pool: pg.Pool): Promise<Candidate[]> {
  const { rows } = await pool.query<{ id: string; members: number; bytes: string }>(
    `SELECT o.id::text AS id, (SELECT count(*) FROM members m WHERE m.org_id = o.id)::int AS members,
            (SELECT COALESCE(sum(size_bytes), 0) FROM stored_files f WHERE f.org_id = o.id)::text AS bytes
     FROM organizations o
     WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.org_id = o.id)
       AND NOT EXISTS (SELECT 1 FROM limit_overrides l WHERE l.org_id = o.id)
     ORDER BY o.id`,
  );
  return rows.map((r) => ({ id: r.id, members: r.members, bytes: BigInt(r.bytes) }));
}

async function countsOf(
  pool: pg.Pool,
  orgId: string,
): Promise<{ members: number; cacheMembers: bigint; bytes: bigint; cacheBytes: bigint }> {
  const { rows } = await pool.query<{ members: number; cache_members: string; bytes: string; cache_bytes: string }>(
    `SELECT (SELECT count(*) FROM members WHERE org_id = $1::uuid)::int AS members,
            (SELECT COALESCE(max(count), 0) FROM usage_cache WHERE org_id = $1::uuid AND metric = 'members')::text AS cache_members,
            (SELECT COALESCE(sum(size_bytes), 0) FROM stored_files WHERE org_id = $1::uuid)::text AS bytes,
            (SELECT COALESCE(max(count), 0) FROM usage_cache WHERE org_id = $1::uuid AND metric = 'storage_bytes')::text AS cache_bytes`,
    [orgId],
  );
  const r = rows[0];
  return {
    members: r?.members ?? 0,
    cacheMembers: BigInt(r?.cache_members ?? "0"),
    bytes: BigInt(r?.bytes ?? "0"),
    cacheBytes: BigInt(r?.cache_bytes ?? "0"),
  };
}

/** A hard limit of the free plan, from the catalogue. */
function freeHardLimit(metric: "members" | "storage_bytes"): bigint {
  const limit = planById(FREE_PLAN_ID)?.limits[metric];
  if (!limit || limit === "unlimited" || limit.kind !== "hard")
    throw new RehearsalError(`the catalogue's free plan has no hard ${metric} limit to enforce`);
  return limit.value;
}

export async function runEnforcementChecks(prisma: PrismaClient, pool: pg.Pool, services: BillingServices): Promise<EnforcementCheck[]> {
  const checks: EnforcementCheck[] = [];
  const memberCap = freeHardLimit("members");
  const storageCap = freeHardLimit("storage_bytes");
  const orgs = await freeOrgs(pool);
  let serial = 0;

  /** member.add through consume, the member row inserted in the same transaction when allowed. */
  const addMember = (orgId: string) =>
    prisma.$transaction(async (tx) => {
      const result = await services.entitlements.consume(orgId, "member.add", { idempotencyKey: randomUUID(), actor: ACTOR, tx });
      if (result.allowed) await tx.member.create({ data: { orgId, email: `phase-c-${serial++}@rehearsal.example`, name: "Phase C" } });
      return result;
    });

  /** member.remove through consume, one member row deleted in the same transaction. */
  const removeMember = (orgId: string) =>
    prisma.$transaction(async (tx) => {
      const gone = await tx.$queryRaw<{ id: string }[]>`
        DELETE FROM members WHERE id = (SELECT id FROM members WHERE org_id = ${orgId}::uuid ORDER BY id LIMIT 1) RETURNING id::text`;
      if (gone.length !== 1) return null;
      return services.entitlements.consume(orgId, "member.remove", { idempotencyKey: randomUUID(), actor: ACTOR, tx });
    });

  // 1. Below the limit: allowed exactly up to it, then denied at it. The traffic may have
  // filled every small free org up to its limit: then one is freed first (a decrement is
  // always allowed), which puts an org below the limit all the same.
  const below = orgs.find((o) => o.members >= 1 && BigInt(o.members) < memberCap) ?? orgs.find((o) => BigInt(o.members) === memberCap);
  if (!below) {
    checks.push({ name: "member.add below the limit, then at it", ok: false, detail: `no free-plan org with 1…${memberCap} members` });
  } else {
    let freed = "";
    if (BigInt(below.members) === memberCap) {
      const removed = await removeMember(below.id);
      freed = `, freed one seat first (remove ${removed?.allowed ? "allowed" : "refused"})`;
      below.members -= removed?.allowed ? 1 : 0;
    }
    let allowed = 0;
    let denial = "";
    for (let i = 0; i <= Number(memberCap); i++) {
      const result = await addMember(below.id);
      if (!result.allowed) {
        denial = result.reason?.code ?? "(no reason)";
        break;
      }
      allowed++;
    }
    const after = await countsOf(pool, below.id);
    const expected = Number(memberCap) - below.members;
    checks.push({
      name: "member.add below the limit, then at it",
      ok:
        expected > 0 &&
        allowed === expected &&
        denial === "limit_exceeded" &&
        BigInt(after.members) === memberCap &&
        after.cacheMembers === memberCap,
      detail: `org ${below.id} with ${below.members} members${freed}: ${allowed} adds allowed (expected ${expected}), then denied "${denial}"; now ${after.members} members, cache ${after.cacheMembers}, limit ${memberCap}`,
    });
  }

  // 2. Over the limit (members the old app let in): adding is denied, removing is allowed.
  const over = orgs.find((o) => BigInt(o.members) > memberCap);
  if (!over) {
    checks.push({
      name: "over the limit: add denied, remove allowed",
      ok: false,
      detail: `no free-plan org with more than ${memberCap} members`,
    });
  } else {
    const add = await addMember(over.id);
    const remove = await removeMember(over.id);
    const after = await countsOf(pool, over.id);
    checks.push({
      name: "over the limit: add denied, remove allowed",
      ok:
        !add.allowed &&
        add.reason?.code === "over_limit_after_downgrade" &&
        remove?.allowed === true &&
        after.members === over.members - 1 &&
        after.cacheMembers === BigInt(after.members),
      detail: `org ${over.id} with ${over.members} members (limit ${memberCap}): add ${add.allowed ? "allowed" : `denied "${add.reason?.code}"`}, remove ${remove?.allowed ? "allowed" : "refused"}; now ${after.members} members, cache ${after.cacheMembers}`,
    });
  }

  // 3. Storage: an upload that would pass the hard limit is denied; one that fills it exactly is allowed.
  const roomy = orgs.find((o) => o.bytes < storageCap && o.id !== below?.id && o.id !== over?.id);
  if (!roomy) {
    checks.push({ name: "file.upload up to the storage limit", ok: false, detail: `no free-plan org under ${storageCap} bytes` });
  } else {
    const room = storageCap - roomy.bytes;
    const tooBig = await services.entitlements.check(roomy.id, "file.upload", { amount: room + 1n });
    const fits = await prisma.$transaction(async (tx) => {
      const result = await services.entitlements.consume(roomy.id, "file.upload", {
        amount: room,
        idempotencyKey: randomUUID(),
        actor: ACTOR,
        tx,
      });
      if (result.allowed) await tx.storedFile.create({ data: { orgId: roomy.id, name: "phase-c-fill.bin", sizeBytes: room } });
      return result;
    });
    const after = await countsOf(pool, roomy.id);
    checks.push({
      name: "file.upload up to the storage limit",
      ok:
        !tooBig.allowed &&
        tooBig.reason?.code === "limit_exceeded" &&
        fits.allowed &&
        after.bytes === storageCap &&
        after.cacheBytes === storageCap,
      detail: `org ${roomy.id} using ${roomy.bytes} of ${storageCap} bytes: ${room + 1n} bytes ${tooBig.allowed ? "allowed" : `denied "${tooBig.reason?.code}"`}, ${room} bytes ${fits.allowed ? "allowed" : "denied"}; now ${after.bytes} bytes, cache ${after.cacheBytes}`,
    });
  }
  return checks;
}
