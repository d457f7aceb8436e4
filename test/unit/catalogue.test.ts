import { describe, expect, it } from "vitest";

import { FREE_PLAN, FREE_PLAN_ID, parseCatalogue, planForProduct, PLANS, type Plan } from "@/server/billing/catalogue";

/** A deep copy of the shipped catalogue to break (structuredClone keeps the bigint limits). */
const catalogue = (): Plan[] => structuredClone([...PLANS]);

function mustFail(data: unknown): string {
  try {
    parseCatalogue(data);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("parseCatalogue accepted a broken catalogue");
}

describe("the shipped plan catalogue", () => {
  it("is valid and has the free plan", () => {
    expect(parseCatalogue(catalogue())).toEqual(PLANS);
    expect(FREE_PLAN.id).toBe(FREE_PLAN_ID);
    expect(FREE_PLAN.dodoProductId).toBeNull();
  });

  it("maps every Dodo product to exactly one plan", () => {
    for (const plan of PLANS) {
      if (plan.dodoProductId) expect(planForProduct(plan.dodoProductId)).toBe(plan);
    }
  });
});

describe("parseCatalogue rejects a broken catalogue, naming the path", () => {
  it("a negative limit", () => {
    const plans = catalogue();
    plans[0]!.limits.members = { kind: "hard", value: -1n };
    expect(mustFail(plans)).toMatch(/^Invalid plan catalogue at 0\.limits\.members\b/);
  });

  it("a bad Dodo product id", () => {
    const plans = catalogue();
    const paid = plans.findIndex((p) => p.dodoProductId !== null);
    plans[paid]!.dodoProductId = "prod_wrong";
    expect(mustFail(plans)).toMatch(new RegExp(`^Invalid plan catalogue at ${paid}\\.dodoProductId: `));
  });

  it("a duplicate plan id", () => {
    const plans = catalogue();
    plans[2]!.id = plans[1]!.id;
    expect(mustFail(plans)).toMatch(new RegExp(`^Invalid plan catalogue at 2\\.id: duplicate plan id ${plans[1]!.id}`));
  });

  it("a missing free plan", () => {
    const plans = catalogue().filter((p) => p.id !== FREE_PLAN_ID);
    expect(mustFail(plans)).toMatch(/^Invalid plan catalogue at \(root\): a "free" plan is required/);
  });

  it("a misspelt metric in the limits", () => {
    const plans = catalogue();
    const limits = plans[0]!.limits as Record<string, unknown>;
    limits.member = limits.members;
    delete limits.members;
    expect(mustFail(plans)).toMatch(/^Invalid plan catalogue at 0\.limits\.members: /);
  });
});
