import { z } from "zod";

import { limitKindSchema, metricSchema, PLANS } from "@/server/billing/catalogue";
import { ORGANIZATION_SORTS } from "@/server/billing/organizations";
import { orgIdSchema, pageLimitSchema } from "@/server/billing/schemas";

import { limitOverrideOutput } from "./overrides.types";
import { getUsageOutput } from "./usage.types";

/** Zod schemas of `billing.orgs.*`: the wire contract, checked on the way in and out. */

/** A manual adjustment: the domain's input, re-exported (never re-declared). */
export { adjustUsageInput } from "@/server/billing/adjustments";

const planIds = PLANS.map((p) => p.id) as [string, ...string[]];

export const planIdSchema = z.enum(planIds);

export const PAGE_SIZE_DEFAULT = 25;
export const PAGE_SIZE_MAX = 100;

export const listOrgsInput = z.object({
  /** Name or slug substring (case-insensitive), or an exact organization id. */
  search: z.string().trim().max(200).optional(),
  /** Only organizations on this plan. */
  plan: planIdSchema.optional(),
  /** 1-based page number. */
  page: z.number().int().min(1).default(1),
  /** Same as `page`, and wins over it: lets `useInfiniteQuery` page with `cursor`. */
  cursor: z.number().int().min(1).nullish(),
  pageSize: pageLimitSchema(PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX),
  /** Only orgs at ≥ 80 % / ≥ 100 % of any hard or soft limit. */
  near: z.union([z.literal(80), z.literal(100)]).optional(),
  /** name (default), or a metric of the catalogue (most first). */
  sort: z.enum(ORGANIZATION_SORTS).default("name"),
});
export type ListOrgsInput = z.input<typeof listOrgsInput>;

/** A 64-bit count from `usage_cache`; null when the org has no cache row yet. */
const cachedCount = z.bigint().nonnegative().nullable();

export const orgListItem = z.object({
  id: z.uuid(),
  name: z.string(),
  slug: z.string(),
  createdAt: z.date(),
  planId: planIdSchema,
  planName: z.string(),
  subscriptionStatus: z.string().nullable(),
  counts: z.record(metricSchema, cachedCount),
  limits: z.partialRecord(metricSchema, z.object({ limit: z.bigint().nullable(), limitKind: limitKindSchema })),
});
export type OrgListItem = z.infer<typeof orgListItem>;

export const listOrgsOutput = z.object({
  items: z.array(orgListItem),
  total: z.number().int().nonnegative(),
  page: z.number().int().min(1),
  pageSize: z.number().int().min(1),
});
export type ListOrgsOutput = z.infer<typeof listOrgsOutput>;

export const orgsStatsOutput = z.object({
  organizations: z.number().int().nonnegative(),
  activeSubscriptions: z.number().int().nonnegative(),
  integrity: z.object({
    pairsChecked: z.number().int().nonnegative(),
    mismatches: z.number().int().nonnegative(),
  }),
  checkedAt: z.date(),
  nearLimit: z.object({
    atLeast80: z.number().int().nonnegative(),
    atLeast100: z.number().int().nonnegative(),
  }),
});
export type OrgsStatsOutput = z.infer<typeof orgsStatsOutput>;

export const getOrgInput = z.object({ orgId: orgIdSchema });

export const listDenialsInput = z.object({
  orgId: orgIdSchema.optional(),
  limit: pageLimitSchema(20),
});

export const denialOutput = z.object({
  id: z.uuid(),
  orgId: z.uuid(),
  /** null for a denial recorded for an unknown org (no foreign key). */
  orgName: z.string().nullable(),
  action: z.string(),
  metric: z.string().nullable(),
  amount: z.bigint(),
  reasonCode: z.string(),
  message: z.string(),
  actor: z.string(),
  createdAt: z.date(),
});

export const listDenialsOutput = z.array(denialOutput);

export const orgDetailOutput = z.object({
  org: z.object({ id: z.uuid(), name: z.string(), slug: z.string(), createdAt: z.date() }),
  /** The plan the policy uses; `name` is the id for a plan no longer in the catalogue. */
  plan: z.object({ id: z.string(), name: z.string() }),
  subscription: z
    .object({
      id: z.string(),
      productId: z.string(),
      status: z.string(),
      currentPeriodStart: z.date().nullable(),
      currentPeriodEnd: z.date().nullable(),
      cancelAtPeriodEnd: z.boolean(),
    })
    .nullable(),
  usage: getUsageOutput,
  /** The server's clock when the detail was read. */
  asOf: z.date(),
  /** Each period metric's current window (gauges have none); `resetsInSeconds` counts from `asOf`. */
  windows: z.array(z.object({ metric: metricSchema, start: z.date(), end: z.date(), resetsInSeconds: z.number().int().nonnegative() })),
  /** Cached counts of metrics the catalogue does not know (stored rows: any text). */
  uncatalogued: z.array(z.object({ metric: z.string(), count: z.bigint(), lastUpdated: z.date() })),
  overrides: z.array(limitOverrideOutput),
  denials: listDenialsOutput,
  series: z.array(
    z.object({
      /** A catalogue metric, or the raw name of one only the ledger holds. */
      metric: z.string(),
      /** `day`: a UTC day, YYYY-MM-DD; `count`: the running total at its end. */
      points: z.array(z.object({ day: z.string(), count: z.bigint() })),
    }),
  ),
});
