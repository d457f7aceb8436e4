import type pg from "pg";

import type { SubscriptionState } from "@/server/billing/policy";
import type { PrismaClient } from "@/server/db/client";

import { SeedError } from "../errors";
import { slugPrefix } from "../generate";

/**
 * The demo orgs as the history starts from them: what the base seed wrote (ids, plans,
 * counts), read back from the database, plus the subscription state the history keeps in step
 * with the webhooks it delivers (the policy's view, so windows and limits are computed the
 * way the services compute them).
 */

export interface DemoSubscription extends SubscriptionState {
  /** Dodo customer id; the seed's rows have none until their first webhook. */
  customerId: string | null;
}

export interface DemoOrg {
  /** The org's index in its seed (the `-<index>` of its slug): keys its PRNG streams. */
  index: number;
  id: string;
  name: string;
  slug: string;
  /** Cached counts per metric when the history starts. */
  counts: ReadonlyMap<string, bigint>;
  /** Rows in the host's file table (storage is counted in bytes, files in rows). */
  files: number;
  subscriptions: DemoSubscription[];
}

interface OrgRow {
  id: string;
  name: string;
  slug: string;
  files: number;
  counts: Record<string, string> | null;
}

/** The first `limit` orgs of `seed` (by index), as the history starts from them. */
export async function loadDemoOrgs(database: { prisma: PrismaClient; pool: pg.Pool }, seed: number, limit?: number): Promise<DemoOrg[]> {
  const { rows } = await database.pool.query<OrgRow>(
    `SELECT o.id::text, o.name, o.slug,
            (SELECT count(*) FROM stored_files f WHERE f.org_id = o.id)::int AS files,
            (SELECT json_object_agg(c.metric, c.count::text) FROM usage_cache c WHERE c.org_id = o.id) AS counts
     FROM organizations o WHERE o.slug LIKE $1`,
    [`${slugPrefix(seed)}%`],
  );
  if (rows.length === 0) throw new SeedError(`no organizations of --seed ${seed} to write a history for: seed them first`);
  const orgs = rows.map((row) => ({ ...row, index: indexOf(row.slug) })).sort((a, b) => a.index - b.index);
  const chosen = limit === undefined ? orgs : orgs.slice(0, limit);
  const subscriptions = await database.prisma.subscription.findMany({
    where: { orgId: { in: chosen.map((o) => o.id) } },
    select: {
      id: true,
      orgId: true,
      productId: true,
      status: true,
      currentPeriodStart: true,
      currentPeriodEnd: true,
      updatedAt: true,
      customerId: true,
    },
    orderBy: { id: "asc" },
  });
  return chosen.map((row) => ({
    index: row.index,
    id: row.id,
    name: row.name,
    slug: row.slug,
    files: row.files,
    counts: new Map(Object.entries(row.counts ?? {}).map(([metric, count]) => [metric, BigInt(count)])),
    subscriptions: subscriptions.filter((s) => s.orgId === row.id).map(({ orgId: _orgId, ...s }) => s),
  }));
}

function indexOf(slug: string): number {
  const match = /-(\d+)$/.exec(slug);
  if (!match) throw new SeedError(`organization ${slug} is not one the seed wrote (its slug ends without an index)`);
  return Number(match[1]);
}

/**
 * The subscription the policy reads (SUBSCRIPTION_PRECEDENCE in JavaScript): the newest by
 * status change, expired and failed ones last.
 */
export function policySubscription(org: DemoOrg): DemoSubscription | null {
  let best: DemoSubscription | null = null;
  for (const s of org.subscriptions) {
    if (!best || precedes(s, best)) best = s;
  }
  return best;
}

const isOver = (s: SubscriptionState) => s.status === "expired" || s.status === "failed";
function precedes(a: SubscriptionState, b: SubscriptionState): boolean {
  if (isOver(a) !== isOver(b)) return !isOver(a);
  return a.updatedAt.getTime() > b.updatedAt.getTime();
}
