import { APIConnectionTimeoutError, APIError } from "dodopayments";
import { describe, expect, it } from "vitest";

import { backoffMs, classifyIngestFailure, MAX_BACKOFF_MS, retryAfterMs } from "@/server/billing/usage-reporting/retry";

const now = new Date("2026-11-24T12:00:00.000Z");
const apiError = (status: number, body: object = {}, headers: Record<string, string> = {}) =>
  APIError.generate(status, body, undefined, new Headers(headers));

describe("the usage reporter's retry rules", () => {
  it("backs off exponentially from 1 s, capped at 5 minutes", () => {
    expect([0, 1, 2, 3].map(backoffMs)).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(30)).toBe(MAX_BACKOFF_MS);
  });

  it("reads retry-after as seconds, as an HTTP date, or retry-after-ms", () => {
    expect(retryAfterMs(new Headers({ "retry-after": "7" }), now)).toBe(7000);
    expect(retryAfterMs(new Headers({ "retry-after": new Date(now.getTime() + 12_000).toUTCString() }), now)).toBe(12_000);
    expect(retryAfterMs(new Headers({ "retry-after-ms": "250", "retry-after": "9" }), now)).toBe(250);
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
  });

  it("retries a 429 after retry-after (never sooner than 1 s), and 5xx, timeouts and refused keys with backoff", () => {
    expect(classifyIngestFailure(apiError(429, {}, { "retry-after": "0" }), 0, now)).toMatchObject({ kind: "retry", delayMs: 1000 });
    expect(classifyIngestFailure(apiError(429, { message: "slow down" }, { "retry-after": "3" }), 5, now)).toMatchObject({
      kind: "retry",
      delayMs: 3000,
    });
    expect(classifyIngestFailure(apiError(429), 2, now)).toMatchObject({ kind: "retry", delayMs: 4000 });
    expect(classifyIngestFailure(apiError(503, { code: "DOWN", message: "maintenance" }), 0, now)).toEqual({
      kind: "retry",
      delayMs: 1000,
      error: "503 DOWN: maintenance",
    });
    expect(classifyIngestFailure(new APIConnectionTimeoutError(), 1, now)).toMatchObject({ kind: "retry", delayMs: 2000 });
    const unauthorized = classifyIngestFailure(apiError(401, { message: "bad key" }), 0, now);
    expect(unauthorized).toMatchObject({ kind: "retry" });
    expect(unauthorized.error).toContain("DODO_PAYMENTS_API_KEY");
  });

  it("expires the events Dodo names as too old, puts off those ahead of its clock, fails the others it names", () => {
    const error = apiError(400, {
      code: "INVALID_TIMESTAMP",
      failed_events: [
        { event_id: "a", error: "timestamp is older than 1 hour" },
        { event_id: "b", error: "metadata value too long" },
        { event_id: "c", error: "timestamp is more than 5 minutes in the future" },
        { error: "no id" },
      ],
    });
    expect(classifyIngestFailure(error, 0, now)).toMatchObject({ kind: "reject", expired: ["a"], later: ["c"], failed: ["b"] });
  });

  it("fails a batch Dodo refuses as a whole, and rethrows what is not an API error (a bug)", () => {
    expect(classifyIngestFailure(apiError(422, { code: "DUPLICATE_EVENT_ID", message: "dup" }), 0, now)).toEqual({
      kind: "fail",
      error: "422 DUPLICATE_EVENT_ID: dup",
    });
    const bug = new TypeError("x is undefined");
    expect(() => classifyIngestFailure(bug, 0, now)).toThrow(bug);
  });
});
