import { describe, expect, it } from "vitest";

import { resolveAction } from "@/server/billing/actions";
import {
  FEATURES,
  FREE_PLAN,
  LIMIT_KINDS,
  planById,
  PLANS,
  type LimitKind as Kind,
  type Limit,
  type Plan,
} from "@/server/billing/catalogue";
import {
  decide,
  effectivePlan,
  featureVerdict,
  GRACE_PERIOD_DAYS,
  type EffectivePlan,
  type OverrideState,
  type Standing,
  type SubscriptionState,
} from "@/server/billing/policy";

const NOW = new Date("2026-11-24T12:00:00.000Z");
const DAY = 86_400_000;
const at = (offsetDays: number) => new Date(NOW.getTime() + offsetDays * DAY);

const sub = (status: string, overrides: Partial<SubscriptionState> = {}): SubscriptionState => ({
  id: "sub_test",
  productId: "pdt_billing_pro",
  status,
  currentPeriodStart: at(-10),
  currentPeriodEnd: at(20),
  updatedAt: at(-1),
  ...overrides,
});

describe("subscription status → plan and standing", () => {
  const cases: [string, SubscriptionState | null, string, Standing][] = [
    ["no subscription", null, "free", "good"],
    ["active", sub("active"), "pro", "good"],
    ["on_hold inside grace", sub("on_hold", { updatedAt: at(-(GRACE_PERIOD_DAYS - 1)) }), "pro", "grace"],
    ["on_hold after grace", sub("on_hold", { updatedAt: at(-(GRACE_PERIOD_DAYS + 1)) }), "pro", "lapsed"],
    ["past_due inside grace", sub("past_due", { updatedAt: at(-2) }), "pro", "grace"],
    ["past_due after grace", sub("past_due", { updatedAt: at(-30) }), "pro", "lapsed"],
    ["cancelled, period not over", sub("cancelled", { currentPeriodEnd: at(3) }), "pro", "good"],
    ["cancelled, period over", sub("cancelled", { currentPeriodEnd: at(-1) }), "free", "good"],
    ["cancelled, no period end", sub("cancelled", { currentPeriodEnd: null }), "free", "good"],
    ["expired", sub("expired"), "free", "good"],
    ["failed", sub("failed"), "free", "good"],
    ["pending", sub("pending"), "free", "good"],
    ["active, unknown product", sub("active", { productId: "pdt_unknown" }), "free", "good"],
    ["active business", sub("active", { productId: "pdt_billing_business" }), "business", "good"],
  ];
  it.each(cases)("%s", (_label, subscription, planId, standing) => {
    const effective = effectivePlan(subscription, NOW);
    expect(effective.plan.id).toBe(planId);
    expect(effective.standing).toBe(standing);
    expect(effective.subscriptionStatus).toBe(subscription?.status ?? "none");
  });
});

// A plan whose members limit we set per case, so every limit kind can come from the plan.
const planWith = (limit: Limit): Plan => ({ ...FREE_PLAN, id: "test", name: "Test", limits: { ...FREE_PLAN.limits, members: limit } });
const effectiveWith = (plan: Plan, standing: Standing): EffectivePlan => ({
  plan,
  standing,
  subscriptionStatus: standing === "good" ? "active" : "on_hold",
  graceEndsAt: standing === "good" ? null : at(standing === "grace" ? 3 : -3),
});

const LIMIT = 10n;
type Position = "under" | "at" | "over";
const usedFor: Record<Position, bigint> = { under: LIMIT - 2n, at: LIMIT, over: LIMIT + 3n };

/** The expected answer of the design's policy for adding one member. */
const EXPECTED: Record<Standing, Record<Kind, Record<Position, [boolean, string | undefined]>>> = {
  good: {
    hard: { under: [true, undefined], at: [false, "limit_exceeded"], over: [false, "over_limit_after_downgrade"] },
    soft: { under: [true, undefined], at: [true, "soft_limit_exceeded"], over: [true, "soft_limit_exceeded"] },
    unlimited: { under: [true, undefined], at: [true, undefined], over: [true, undefined] },
  },
  grace: {
    hard: { under: [true, "grace_period"], at: [false, "limit_exceeded"], over: [false, "over_limit_after_downgrade"] },
    soft: { under: [true, "grace_period"], at: [true, "soft_limit_exceeded"], over: [true, "soft_limit_exceeded"] },
    unlimited: { under: [true, "grace_period"], at: [true, "grace_period"], over: [true, "grace_period"] },
  },
  lapsed: {
    hard: { under: [false, "subscription_inactive"], at: [false, "subscription_inactive"], over: [false, "subscription_inactive"] },
    soft: { under: [false, "subscription_inactive"], at: [false, "subscription_inactive"], over: [false, "subscription_inactive"] },
    unlimited: { under: [false, "subscription_inactive"], at: [false, "subscription_inactive"], over: [false, "subscription_inactive"] },
  },
};

const limitOf = (kind: Kind): Limit => (kind === "unlimited" ? "unlimited" : { kind, value: LIMIT });
const overrideOf = (kind: Kind): OverrideState => ({ kind, value: kind === "unlimited" ? null : LIMIT, expiresAt: at(5) });

const matrix = (["good", "grace", "lapsed"] as Standing[]).flatMap((standing) =>
  LIMIT_KINDS.flatMap((kind) =>
    (["under", "at", "over"] as Position[]).flatMap((position) =>
      (["plan", "override"] as const).map((source) => ({ standing, kind, position, source })),
    ),
  ),
);

describe("adding usage: standing × limit kind × position × plan or override", () => {
  it.each(matrix)("$standing, $kind limit from $source, $position the limit", ({ standing, kind, position, source }) => {
    // With an override, the plan says something else, so only the override can explain the answer.
    const plan = source === "plan" ? planWith(limitOf(kind)) : planWith({ kind: "hard", value: 1n });
    const decision = decide({
      effective: effectiveWith(plan, standing),
      action: resolveAction("member.add"),
      amount: 1n,
      used: usedFor[position],
      override: source === "override" ? overrideOf(kind) : undefined,
      now: NOW,
    });
    const [allowed, code] = EXPECTED[standing][kind][position];
    expect({ allowed: decision.allowed, code: decision.reason?.code }).toEqual({ allowed, code });
    expect(decision.limitKind).toBe(kind);
    expect(decision.limitOverridden).toBe(source === "override");
    expect(decision.used).toBe(usedFor[position]);
    expect(decision.limit).toBe(kind === "unlimited" ? null : LIMIT);
    expect(decision.remaining).toBe(kind === "unlimited" ? null : LIMIT > usedFor[position] ? LIMIT - usedFor[position] : 0n);
    if (decision.reason) expect(decision.reason.message.length).toBeGreaterThan(10);
  });
});

describe("freeing usage is always allowed", () => {
  it.each(matrix)("$standing, $kind from $source, $position", ({ standing, kind, position, source }) => {
    const plan = source === "plan" ? planWith(limitOf(kind)) : planWith({ kind: "hard", value: 1n });
    const decision = decide({
      effective: effectiveWith(plan, standing),
      action: resolveAction("member.remove"),
      amount: 1n,
      used: usedFor[position],
      override: source === "override" ? overrideOf(kind) : undefined,
      now: NOW,
    });
    expect(decision.allowed).toBe(true);
    expect(decision.reason).toBeUndefined();
  });
});

describe("amounts and overrides", () => {
  it("a multi-unit amount that would cross a hard limit is denied whole", () => {
    const decision = decide({
      effective: effectiveWith(planWith({ kind: "hard", value: 100n }), "good"),
      action: resolveAction("file.upload"),
      amount: 5n * 2n ** 31n,
      used: 0n,
      now: NOW,
    });
    // file.upload meters storage_bytes: the free plan's 1 GiB applies, not the members limit.
    expect(decision.metric).toBe("storage_bytes");
    expect(decision.allowed).toBe(false);
    expect(decision.reason?.code).toBe("limit_exceeded");
  });

  it("an expired override no longer applies", () => {
    const decision = decide({
      effective: effectiveWith(planWith({ kind: "hard", value: 5n }), "good"),
      action: resolveAction("member.add"),
      amount: 1n,
      used: 5n,
      override: { kind: "unlimited", value: null, expiresAt: at(-1) },
      now: NOW,
    });
    expect(decision.allowed).toBe(false);
    expect(decision.limitOverridden).toBe(false);
  });
});

describe("features", () => {
  const pro = planById("pro") as Plan;
  it.each([
    ["good", "audit_log_export", true, undefined],
    ["good", "sso", false, "feature_not_in_plan"],
    ["grace", "audit_log_export", true, "grace_period"],
    ["lapsed", "audit_log_export", false, "subscription_inactive"],
  ] as const)("%s standing, %s", (standing, feature, allowed, code) => {
    const decision = decide({
      effective: effectiveWith(pro, standing),
      action: resolveAction(`feature.${feature}`),
      amount: 1n,
      used: 0n,
      now: NOW,
    });
    expect(decision.allowed).toBe(allowed);
    expect(decision.reason?.code).toBe(code);
  });
});

describe("featureVerdict: the rule check and the entitlement snapshot share", () => {
  const standings: Standing[] = ["good", "grace", "lapsed"];
  const cases = PLANS.flatMap((plan) => standings.flatMap((standing) => FEATURES.map((feature) => ({ plan, standing, feature }))));

  it.each(cases)("$plan.id, $standing, $feature: allowed exactly when decide allows feature.<name>", ({ plan, standing, feature }) => {
    const effective: EffectivePlan = { plan, subscriptionStatus: "past_due", standing, graceEndsAt: at(1) };
    const verdict = featureVerdict(effective, feature);
    const decision = decide({ effective, action: resolveAction(`feature.${feature}`), amount: 1n, used: 0n, now: NOW });
    expect(verdict === "allowed").toBe(decision.allowed);
    expect(verdict).toBe(standing === "lapsed" ? "lapsed" : plan.features[feature] ? "allowed" : "not_in_plan");
  });
});

// The answer's keys and their order are part of the wire format (the JSON the product app
// gets): decide() builds each answer as one object (policy.ts, `answer`), and this holds every
// kind of answer to the keys it had when it was spread together (it passes on the old code).
describe("the shape of a decision", () => {
  const FIGURES = ["plan", "subscriptionStatus", "metric", "limit", "limitKind", "limitOverridden", "used", "remaining"];
  const WINDOW = ["windowStart", "windowEnd"];
  const window = { start: at(-1), end: at(29) };
  const shapeOf = (
    standing: Standing,
    action: string,
    options: { used?: bigint; window?: typeof window; limit?: Limit; override?: OverrideState } = {},
  ) =>
    decide({
      effective: effectiveWith(planWith(options.limit ?? { kind: "hard", value: LIMIT }), standing),
      action: resolveAction(action as Parameters<typeof resolveAction>[0]),
      amount: 1n,
      used: options.used ?? 0n,
      override: options.override,
      now: NOW,
      window: options.window,
    });
  const soft: Limit = { kind: "soft", value: LIMIT };
  it.each([
    ["allowed, no window", shapeOf("good", "member.add"), [...FIGURES, "allowed"], undefined],
    ["allowed, in a window", shapeOf("good", "member.add", { window }), [...FIGURES, ...WINDOW, "allowed"], undefined],
    ["unlimited", shapeOf("good", "member.add", { limit: "unlimited", used: LIMIT * 5n }), [...FIGURES, "allowed"], undefined],
    [
      "an override's limit",
      shapeOf("good", "member.add", { override: overrideOf("hard"), window }),
      [...FIGURES, ...WINDOW, "allowed"],
      undefined,
    ],
    ["denied at the limit", shapeOf("good", "member.add", { used: LIMIT }), [...FIGURES, "allowed", "reason"], "limit_exceeded"],
    [
      "over the limit after a downgrade",
      shapeOf("good", "member.add", { used: LIMIT + 1n, window }),
      [...FIGURES, ...WINDOW, "allowed", "reason"],
      "over_limit_after_downgrade",
    ],
    [
      "soft limit passed",
      shapeOf("good", "member.add", { used: LIMIT, limit: soft }),
      [...FIGURES, "allowed", "reason"],
      "soft_limit_exceeded",
    ],
    [
      "soft limit passed, in a window",
      shapeOf("good", "member.add", { used: LIMIT, window, limit: soft }),
      [...FIGURES, ...WINDOW, "allowed", "reason"],
      "soft_limit_exceeded",
    ],
    ["grace", shapeOf("grace", "member.add"), [...FIGURES, "allowed", "reason"], "grace_period"],
    ["lapsed", shapeOf("lapsed", "member.add", { window }), [...FIGURES, ...WINDOW, "allowed", "reason"], "subscription_inactive"],
    ["freeing usage while lapsed", shapeOf("lapsed", "member.remove"), [...FIGURES, "allowed"], undefined],
  ])("%s", (_label, decision, keys, code) => {
    expect(Object.keys(decision)).toEqual(keys);
    expect(Object.values(decision)).not.toContain(undefined);
    expect(decision.reason?.code).toBe(code);
  });

  it("a feature's answers carry no figures", () => {
    const feature = FEATURES[0] as (typeof FEATURES)[number];
    const withFeature = (features: Plan["features"], standing: Standing) =>
      decide({
        effective: effectiveWith({ ...FREE_PLAN, features }, standing),
        action: resolveAction(`feature.${feature}` as Parameters<typeof resolveAction>[0]),
        amount: 1n,
        used: 0n,
        now: NOW,
      });
    const none = Object.fromEntries(FEATURES.map((f) => [f, false])) as Plan["features"];
    const all = Object.fromEntries(FEATURES.map((f) => [f, true])) as Plan["features"];
    const reasoned = ["plan", "subscriptionStatus", "allowed", "reason"];
    expect(withFeature(all, "good")).toStrictEqual({ plan: FREE_PLAN.id, subscriptionStatus: "active", allowed: true });
    expect(Object.keys(withFeature(all, "grace"))).toEqual(reasoned);
    expect(Object.keys(withFeature(none, "good"))).toEqual(reasoned);
    expect(withFeature(none, "good").reason?.code).toBe("feature_not_in_plan");
    expect(Object.keys(withFeature(all, "lapsed"))).toEqual(reasoned);
  });

  it("a window's bounds are the window's", () => {
    const decision = shapeOf("good", "member.add", { window });
    expect(decision.windowStart).toBe(window.start);
    expect(decision.windowEnd).toBe(window.end);
  });
});
