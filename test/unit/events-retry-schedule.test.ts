import { describe, expect, it } from "vitest";

import { MAX_ATTEMPTS, RETRY_DELAYS_MS, retryDelayUpTo } from "@/server/billing/events/retry-schedule";

describe("the event deliverer's retry schedule cut to EVENTS_MAX_ATTEMPTS", () => {
  it("gives up after the given number of attempts in all", () => {
    expect(retryDelayUpTo(1)(1)).toBeNull();
    const upToThree = retryDelayUpTo(3);
    expect(upToThree(3)).toBeNull();
    const second = upToThree(2) ?? -1;
    expect(second).toBeGreaterThanOrEqual(RETRY_DELAYS_MS[1] * 0.8);
    expect(second).toBeLessThanOrEqual(RETRY_DELAYS_MS[1] * 1.2);
  });

  it("is the whole schedule at MAX_ATTEMPTS (the default)", () => {
    const full = retryDelayUpTo(MAX_ATTEMPTS);
    expect(full(MAX_ATTEMPTS - 1)).not.toBeNull();
    expect(full(MAX_ATTEMPTS)).toBeNull();
  });
});
