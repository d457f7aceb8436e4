import { Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { FREE_PLAN, METRICS, planById, planForProduct, PLANS, type LimitKind, type Metric, type Plan } from "./catalogue";
import { BillingError } from "./errors";
import { usagePercentSql, windowedUsageSql, type NearLimitThreshold } from "./near-limit";
import { loadPolicyContext, summarizeUsage } from "./policy-context";
import { UUID_PATTERN } from "./schemas";

/**
 * Reads for the staff view of organizations. Knows nothing of tRPC or Next: callers pass
 * the Prisma client (or a transaction) and validated input.
 */

export interface ListOrganizationsInput {
  /** Matches name or slug (case-insensitive substring), or the exact id when it is a UUID. */
  search?: string;
  /** Only organizations on this plan (a catalogue plan id). */
  planId?: string;
  /** 1-based page number. */
  page: number;
  pageSize: number;
  /** Only orgs at ≥ this percent of any hard or soft limit (see near-limit.ts). */
  near?: NearLimitThreshold;
  /** Order: name (A→Z, default), or a metric's cached count (most first); ties by name, id. */
  sort?: OrganizationSort;
  /** The clock of the near-limit filter and the sorts (overrides expire, windows end); default now. */
  now?: Date;
}

/** By name, or by any metric of the catalogue (a metric added there is a sort with no other edit). */
export const ORGANIZATION_SORTS = ["name", ...METRICS] as ["name", ...Metric[]];
export type OrganizationSort = (typeof ORGANIZATION_SORTS)[number];

/**
 * A metric's sort is by what the org counts in its current window (the number the list shows):
 * the metric's windowed usage of every org, joined once (at most one row per org: one cache
 * row per org and metric), then ordered.
 */
function sortJoin(sort: OrganizationSort | undefined, now: Date): Prisma.Sql {
  if (sort === undefined || sort === "name") return Prisma.empty;
  return Prisma.sql`LEFT JOIN (${windowedUsageSql(now, Prisma.sql`u.metric = ${sort}`)}) sort_usage ON sort_usage.org_id = o.id`;
}

function orderBy(sort: OrganizationSort | undefined): Prisma.Sql {
  if (sort === undefined || sort === "name") return Prisma.sql`o.name, o.id`;
  return Prisma.sql`sort_usage.count DESC NULLS LAST, o.name, o.id`;
}

function nearCondition(near: NearLimitThreshold | undefined, now: Date): Prisma.Sql {
  if (near === undefined) return Prisma.sql`TRUE`;
  return Prisma.sql`o.id IN (SELECT p.org_id FROM (${usagePercentSql(now)}) p WHERE p.pct >= ${near})`;
}

export interface OrganizationListItem {
  id: string;
  name: string;
  slug: string;
  createdAt: Date;
  planId: string;
  planName: string;
  /** Status of the newest subscription; null when the org never subscribed. */
  subscriptionStatus: string | null;
  /** Each catalogue metric's count from `usage_cache`; null where the org has no cache row yet (before the backfill). */
  counts: Record<Metric, bigint | null>;
  /** Each metric's effective limit (null = unlimited), as the policy engine applies it. */
  limits: Partial<Record<Metric, { limit: bigint | null; limitKind: LimitKind }>>;
}

export interface OrganizationList {
  items: OrganizationListItem[];
  total: number;
  page: number;
  pageSize: number;
}

/** Escapes LIKE wildcards so a search for "50%" means the characters, not a pattern. */
function likePattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The Dodo product ids the catalogue knows; anything else counts as the free plan. */
const PAID_PRODUCT_IDS = PLANS.flatMap((p) => (p.dodoProductId ? [p.dodoProductId] : []));

/**
 * The plan an organization is on, as far as the list is concerned: its newest subscription's
 * product mapped through the catalogue; no subscription (or a product the catalogue does not
 * know) → free. Subscription status is reported separately; the policy engine decides what
 * a status means for entitlements.
 */
export function planOfProduct(productId: string | null): Plan {
  return (productId && planForProduct(productId)) || FREE_PLAN;
}

function planCondition(planId: string | undefined): Prisma.Sql {
  if (planId === undefined) return Prisma.sql`TRUE`;
  const plan = planById(planId);
  if (!plan) throw new BillingError("BAD_REQUEST", "unknown_plan", `Unknown plan "${planId}"`);
  if (plan.dodoProductId) return Prisma.sql`s.product_id = ${plan.dodoProductId}`;
  // The free plan: no subscription, or one whose product is not a paid plan's.
  if (PAID_PRODUCT_IDS.length === 0) return Prisma.sql`TRUE`;
  return Prisma.sql`(s.product_id IS NULL OR s.product_id NOT IN (${Prisma.join(PAID_PRODUCT_IDS)}))`;
}

function searchCondition(search: string | undefined): Prisma.Sql {
  const term = search?.trim();
  if (!term) return Prisma.sql`TRUE`;
  const pattern = likePattern(term);
  const byText = Prisma.sql`o.name ILIKE ${pattern} OR o.slug ILIKE ${pattern}`;
  return UUID_PATTERN.test(term) ? Prisma.sql`(${byText} OR o.id = ${term.toLowerCase()}::uuid)` : Prisma.sql`(${byText})`;
}

interface OrgRow {
  id: string;
  name: string;
  slug: string;
  createdAt: Date;
  productId: string | null;
  status: string | null;
  total: bigint;
}

/**
 * One page of organizations ordered by name, then id (a stable order for paging), with
 * each org's plan and cached usage. Usage comes from `usage_cache` for the page's ids only;
 * nothing here counts members, teams or files. Each org's newest subscription is picked
 * set-wise (DISTINCT ON) and joined, not looked up per org: at 10 000 orgs the per-org lookup
 * was estimated so dear that PostgreSQL compiled the query (JIT) for 0.6 s on every load.
 */
export async function listOrganizations(db: Db, input: ListOrganizationsInput): Promise<OrganizationList> {
  const { page, pageSize } = input;
  const now = input.now ?? new Date();
  if (!Number.isInteger(page) || page < 1) throw new BillingError("BAD_REQUEST", "invalid_page", "page must be ≥ 1");
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new BillingError("BAD_REQUEST", "invalid_page_size", "pageSize must be ≥ 1");
  }

  const from = Prisma.sql`
    FROM organizations o
    LEFT JOIN (
      SELECT DISTINCT ON (org_id) org_id, product_id, status
      FROM subscriptions
      ORDER BY org_id, created_at DESC, updated_at DESC, id DESC
    ) s ON s.org_id = o.id
    ${sortJoin(input.sort, now)}
    WHERE ${searchCondition(input.search)} AND ${planCondition(input.planId)}
      AND ${nearCondition(input.near, now)}`;

  const rows = await db.$queryRaw<OrgRow[]>`
    SELECT o.id::text AS "id", o.name, o.slug, o.created_at AS "createdAt",
           s.product_id AS "productId", s.status AS "status",
           count(*) OVER () AS "total"
    ${from}
    ORDER BY ${orderBy(input.sort)}
    LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`;

  let total: number;
  if (rows[0]) {
    total = Number(rows[0].total);
  } else if (page > 1) {
    // Past the last page: the window count saw no rows, so count separately.
    const [counted] = await db.$queryRaw<{ total: bigint }[]>`SELECT count(*) AS "total" ${from}`;
    total = Number(counted?.total ?? 0);
  } else {
    total = 0;
  }

  // The page's orgs only (≤ pageSize): each one's usage against its effective limits, the
  // same answer the policy engine gives (plan, subscription status, overrides).
  const contexts = await Promise.all(rows.map((r) => loadPolicyContext(db, r.id, now)));

  const items = rows.map((row, i): OrganizationListItem => {
    const plan = planOfProduct(row.productId);
    const context = contexts[i];
    const summary = context ? summarizeUsage(context, now).metrics : [];
    // Each count as summarizeUsage reports it (what the org page and the policy show), not
    // the raw cache row, so the two pages never disagree; null where there is no cache row.
    const cached = (metric: Metric) => (context?.usage[metric] ? (summary.find((m) => m.metric === metric)?.count ?? null) : null);
    return {
      id: row.id,
      name: row.name,
      slug: row.slug,
      createdAt: row.createdAt,
      planId: plan.id,
      planName: plan.name,
      subscriptionStatus: row.status,
      counts: Object.fromEntries(METRICS.map((m) => [m, cached(m)])) as OrganizationListItem["counts"],
      limits: Object.fromEntries(
        summary.map((m) => [m.metric, { limit: m.limit, limitKind: m.limitKind }]),
      ) as OrganizationListItem["limits"],
    };
  });

  return { items, total, page, pageSize };
}
