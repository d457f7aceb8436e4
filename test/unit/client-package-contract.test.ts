import { describe, expect, expectTypeOf, it } from "vitest";

import type { RouterInputs, RouterOutputs } from "@/server/api/root";
import { ACTION_NAMES, METERED_ACTIONS as SERVER_ACTIONS } from "@/server/billing/actions";
import { FEATURES, LIMIT_KINDS, METRICS, PLANS } from "@/server/billing/catalogue";
import { SUBSCRIPTION_STATUSES } from "@/server/billing/dodo/events";
import { BILLING_EVENT_TYPES } from "@/server/billing/events/event-types";
import { REASON_CODES } from "@/server/billing/policy";

import * as sdk from "../../packages/client/src";

/**
 * The client package declares the API's names and shapes itself (its bundled .d.ts must not
 * reach into the server), so this is where the two are held together: the same names, by
 * value, and the same shapes, by type (checked by `npm run typecheck`; the `it` only runs).
 */

type Out = RouterOutputs["billing"];
type In = RouterInputs["billing"];
/** `plan` is a string on the wire and the catalogue's ids in the package: compared by value below. */
type WithoutPlan<T> = T extends unknown ? Omit<T, "plan"> : never;

describe("the client package's contract with the server", () => {
  it("names the same metrics, features, actions, reasons, limit kinds, plans and statuses", () => {
    expect(sdk.METRICS).toEqual(METRICS);
    expect(sdk.BILLING_EVENT_TYPES).toEqual(BILLING_EVENT_TYPES);
    expect(sdk.FEATURES).toEqual(FEATURES);
    expect(sdk.METERED_ACTIONS).toEqual(Object.keys(SERVER_ACTIONS));
    expect(sdk.ACTIONS).toEqual(ACTION_NAMES);
    expect(sdk.REASON_CODES).toEqual(REASON_CODES);
    expect(sdk.LIMIT_KINDS).toEqual(LIMIT_KINDS);
    expect(sdk.PLAN_IDS).toEqual([...PLANS.map((plan) => plan.id), "none"]);
    expect(sdk.SUBSCRIPTION_STATUSES).toEqual(["none", ...SUBSCRIPTION_STATUSES]);
  });

  it("describes every answer the server's output schemas allow, and nothing they do not", () => {
    // Server → package: whatever the server may send, the package's type describes.
    expectTypeOf<WithoutPlan<Out["entitlements"]["check"]>>().toExtend<WithoutPlan<sdk.ServiceDecision>>();
    expectTypeOf<WithoutPlan<Out["entitlements"]["consume"]>>().toExtend<
      WithoutPlan<Extract<sdk.ConsumeResult, { fallback?: undefined }>>
    >();
    expectTypeOf<WithoutPlan<Out["entitlements"]["snapshot"]>>().toExtend<WithoutPlan<sdk.EntitlementSnapshot>>();
    expectTypeOf<WithoutPlan<Out["usage"]["get"]>>().toExtend<WithoutPlan<sdk.UsageSummary>>();
    expectTypeOf<Out["usage"]["increment"]>().toExtend<sdk.IncrementResult>();
    expectTypeOf<Out["usage"]["incrementMany"]>().toExtend<sdk.IncrementManyResult>();
    // Package → server: the package promises nothing the server's schema would not send.
    expectTypeOf<sdk.ServiceDecision>().toExtend<Out["entitlements"]["check"]>();
    expectTypeOf<Extract<sdk.ConsumeResult, { fallback?: undefined }>>().toExtend<Out["entitlements"]["consume"]>();
    expectTypeOf<sdk.EntitlementSnapshot>().toExtend<Out["entitlements"]["snapshot"]>();
    expectTypeOf<sdk.UsageSummary>().toExtend<Out["usage"]["get"]>();
    expectTypeOf<sdk.IncrementResult>().toExtend<Out["usage"]["increment"]>();
    expectTypeOf<sdk.IncrementManyResult>().toExtend<Out["usage"]["incrementMany"]>();
  });

  it("lets a caller send only what the server's input schemas accept", () => {
    expectTypeOf<sdk.CheckInput>().toExtend<In["entitlements"]["check"]>();
    expectTypeOf<sdk.ConsumeInput>().toExtend<In["entitlements"]["consume"]>();
    expectTypeOf<sdk.SnapshotInput>().toExtend<In["entitlements"]["snapshot"]>();
    expectTypeOf<sdk.IncrementInput>().toExtend<In["usage"]["increment"]>();
    expectTypeOf<sdk.IncrementManyInput>().toExtend<In["usage"]["incrementMany"]>();
    expectTypeOf<{ orgId: string }>().toExtend<In["usage"]["get"]>();
  });
});
