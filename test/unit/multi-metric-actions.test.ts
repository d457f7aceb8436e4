import { describe, expect, it } from "vitest";

import { METERED_ACTIONS, validateActions, type MeteredAction } from "@/server/billing/actions";
import { CatalogueError, type Metric } from "@/server/billing/catalogue";
import { bindingDecision, type Decision } from "@/server/billing/policy";

const action = (metric: Metric, also: Metric[]): Record<string, MeteredAction> => ({
  "x.do": { metric, also, direction: 1, reason: "x", amountRequired: false },
});

describe("actions that count several metrics", () => {
  it("the shipped actions are valid: api.call counts the month's and the hour's calls", () => {
    expect(() => validateActions(METERED_ACTIONS)).not.toThrow();
    expect((METERED_ACTIONS["api.call"] as MeteredAction).also).toEqual(["api_calls_hourly"]);
  });

  it("refuses an unknown extra metric, the action's own metric again, or one twice", () => {
    expect(() => validateActions(action("api_calls", ["nope" as Metric]))).toThrow(CatalogueError);
    expect(() => validateActions(action("api_calls", ["api_calls"]))).toThrow(/counts api_calls twice/);
    expect(() => validateActions(action("api_calls", ["exports", "exports"]))).toThrow(/counts exports twice/);
  });
});

describe("bindingDecision", () => {
  const base = { plan: "free", subscriptionStatus: "none" };
  const month: Decision = { ...base, allowed: true, metric: "api_calls", limit: 10_000n, used: 100n, remaining: 9_900n };
  const hour: Decision = { ...base, allowed: true, metric: "api_calls_hourly", limit: 500n, used: 100n, remaining: 400n };
  const unlimited: Decision = { ...base, allowed: true, metric: "api_calls_hourly", limit: null, used: 100n, remaining: null };
  const hourDenied: Decision = { ...hour, allowed: false, used: 500n, remaining: 0n, reason: { code: "limit_exceeded", message: "" } };

  it("one decision is answered as it is", () => {
    expect(bindingDecision([month])).toBe(month);
  });
  it("the denying metric binds, whatever the others have left", () => {
    expect(bindingDecision([month, hourDenied])).toBe(hourDenied);
  });
  it("else the one with the least remaining; unlimited never binds over a limit; the own metric on a tie", () => {
    expect(bindingDecision([month, hour])).toBe(hour);
    expect(bindingDecision([month, unlimited])).toBe(month);
    expect(bindingDecision([unlimited, month])).toBe(month);
    expect(bindingDecision([hour, { ...hour, metric: "exports" }]).metric).toBe("api_calls_hourly");
  });
});
