import { z } from "zod";

import { METRIC_DEFINITIONS, METRICS } from "./metrics";

/**
 * The plan catalogue: data, validated by zod when the module loads, so an invalid
 * catalogue stops start-up with the issue's path instead of mis-billing someone.
 */

export { METRICS } from "./metrics";
export const metricSchema = z.enum(METRICS);
export type Metric = z.infer<typeof metricSchema>;

/** Gauges hold a current amount; period counters count in a window that resets (metrics.ts). */
export const METRIC_KIND = Object.fromEntries(METRICS.map((m) => [m, METRIC_DEFINITIONS[m].kind])) as Record<
  Metric,
  "gauge" | "period_counter"
>;

export const FEATURES = ["sso", "audit_log_export", "custom_roles", "priority_support", "api_access"] as const;
export const featureSchema = z.enum(FEATURES);
export type Feature = z.infer<typeof featureSchema>;

const nonNegativeBigInt = z
  .union([z.bigint(), z.number().int(), z.string().regex(/^\d+$/)])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n, "must not be negative");

/**
 * How a limit applies: `hard` refuses past it, `soft` allows and flags, `unlimited` has no
 * number. One list for the plans, the overrides, the policy's answers and the API schemas.
 */
export const LIMIT_KINDS = ["hard", "soft", "unlimited"] as const;
export const limitKindSchema = z.enum(LIMIT_KINDS);
export type LimitKind = z.infer<typeof limitKindSchema>;

export const limitSchema = z.union([
  z.literal("unlimited"),
  z.object({ kind: limitKindSchema.exclude(["unlimited"]), value: nonNegativeBigInt }).strict(),
]);
export type Limit = z.infer<typeof limitSchema>;

export const planSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_]*$/, "plan ids are snake_case"),
    name: z.string().min(1),
    /** Dodo product id (pdt_…); null for the free plan, which has no product. */
    dodoProductId: z.string().startsWith("pdt_").nullable(),
    /** A limit for every metric of metrics.ts, and no other. */
    limits: z.object(Object.fromEntries(METRICS.map((m) => [m, limitSchema])) as Record<Metric, typeof limitSchema>).strict(),
    features: z.partialRecord(featureSchema, z.boolean()),
    /** Dodo usage meter event names for metered metrics (sent by the usage reporter). */
    meters: z.partialRecord(metricSchema, z.string().min(1)).default({}),
    /**
     * Usage-alert thresholds in percent of the effective limit, per metric (default
     * DEFAULT_ALERT_PERCENTS): a usage.threshold_crossed event when a count reaches one.
     * Over 100 is allowed (a soft limit's overshoot); an empty list turns the defaults off.
     */
    alertPercents: z.partialRecord(metricSchema, z.array(z.number().int().min(1).max(1000))).default({}),
  })
  .strict();
export type Plan = z.infer<typeof planSchema>;

export const catalogueSchema = z
  .array(planSchema)
  .min(1)
  .superRefine((plans, ctx) => {
    const ids = new Set<string>();
    const products = new Set<string>();
    plans.forEach((plan, index) => {
      if (ids.has(plan.id)) ctx.addIssue({ code: "custom", path: [index, "id"], message: `duplicate plan id ${plan.id}` });
      ids.add(plan.id);
      if (plan.dodoProductId) {
        if (products.has(plan.dodoProductId)) {
          ctx.addIssue({ code: "custom", path: [index, "dodoProductId"], message: "duplicate Dodo product id" });
        }
        products.add(plan.dodoProductId);
      }
    });
    if (!ids.has(FREE_PLAN_ID)) ctx.addIssue({ code: "custom", path: [], message: `a "${FREE_PLAN_ID}" plan is required` });
  });

export const FREE_PLAN_ID = "free";

const GiB = 1024n ** 3n;

const hard = (value: bigint | number) => ({ kind: "hard" as const, value: BigInt(value) });
const soft = (value: bigint | number) => ({ kind: "soft" as const, value: BigInt(value) });

const PLAN_DATA: z.input<typeof catalogueSchema> = [
  {
    id: "free",
    name: "Free",
    dodoProductId: null,
    limits: {
      members: hard(5),
      teams: hard(2),
      storage_bytes: hard(GiB),
      api_calls: hard(10_000),
      api_calls_hourly: hard(500),
      ai_requests: hard(50),
      exports: hard(10),
    },
    features: { api_access: true },
  },
  {
    id: "pro",
    name: "Pro",
    dodoProductId: "pdt_billing_pro",
    limits: {
      members: hard(25),
      teams: hard(10),
      storage_bytes: hard(100n * GiB),
      api_calls: soft(500_000),
      api_calls_hourly: hard(20_000),
      ai_requests: hard(1_000),
      exports: hard(100),
    },
    features: { api_access: true, audit_log_export: true },
    meters: { api_calls: "api_calls" },
  },
  {
    id: "business",
    name: "Business",
    dodoProductId: "pdt_billing_business",
    limits: {
      members: soft(250),
      teams: hard(100),
      storage_bytes: hard(2048n * GiB),
      api_calls: soft(5_000_000),
      api_calls_hourly: soft(200_000),
      ai_requests: soft(10_000),
      exports: hard(1_000),
    },
    features: { api_access: true, audit_log_export: true, sso: true, custom_roles: true },
    meters: { api_calls: "api_calls" },
  },
  {
    id: "enterprise",
    name: "Enterprise",
    dodoProductId: "pdt_billing_enterprise",
    limits: {
      members: "unlimited",
      teams: "unlimited",
      storage_bytes: soft(20_480n * GiB),
      api_calls: "unlimited",
      api_calls_hourly: "unlimited",
      ai_requests: "unlimited",
      exports: "unlimited",
    },
    features: { api_access: true, audit_log_export: true, sso: true, custom_roles: true, priority_support: true },
    meters: { api_calls: "api_calls" },
  },
];

export class CatalogueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CatalogueError";
  }
}

export function parseCatalogue(data: unknown): Plan[] {
  const result = catalogueSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new CatalogueError(`Invalid plan catalogue at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  return result.data;
}

export const PLANS: readonly Plan[] = parseCatalogue(PLAN_DATA);

const byId = new Map(PLANS.map((p) => [p.id, p]));
const byProduct = new Map(PLANS.filter((p) => p.dodoProductId).map((p) => [p.dodoProductId as string, p]));

export function planById(id: string): Plan | undefined {
  return byId.get(id);
}

export function planForProduct(productId: string): Plan | undefined {
  return byProduct.get(productId);
}

export const FREE_PLAN: Plan = byId.get(FREE_PLAN_ID) as Plan;

/** The plan's default usage-alert thresholds when the catalogue names none for a metric. */
export const DEFAULT_ALERT_PERCENTS: readonly number[] = [80, 100];

/** A plan's alert thresholds for a metric, in percent of the effective limit, ascending and distinct. */
export function alertPercentsFor(plan: Plan, metric: Metric): number[] {
  return [...new Set(plan.alertPercents[metric] ?? DEFAULT_ALERT_PERCENTS)].sort((a, b) => a - b);
}
