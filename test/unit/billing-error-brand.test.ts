import { describe, expect, it, vi } from "vitest";

/**
 * Next bundles a module once per route bundle, and the process-wide services (on globalThis)
 * may throw another bundle's copy of BillingError. The tRPC error map must still recognise it,
 * or a typed refusal (404, 409) becomes a 500 — as it did in the built dashboard.
 */
describe("isBillingError across copies of the module", () => {
  it("recognises a BillingError made by another copy of errors.ts, and nothing else", async () => {
    const first = await import("@/server/billing/errors");
    vi.resetModules();
    const second = await import("@/server/billing/errors");
    expect(second.BillingError).not.toBe(first.BillingError); // really two copies of the class

    const fromOtherCopy = new second.BillingError("NOT_FOUND", "org_not_found", "no such org");
    expect(fromOtherCopy instanceof first.BillingError).toBe(false);
    expect(first.isBillingError(fromOtherCopy)).toBe(true);
    expect(first.isBillingError(new Error("plain"))).toBe(false);
    expect(first.isBillingError({ code: "NOT_FOUND", reason: "org_not_found" })).toBe(false);
    expect(first.isBillingError(null)).toBe(false);
  });
});
