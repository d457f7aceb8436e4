import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

import { describe, expect, it } from "vitest";

import { BillingClientError } from "../../packages/client/src/errors";
import { UsageTracker, type TrackerError } from "../../packages/client/src/tracker";
import type { IncrementInput, IncrementManyResult } from "../../packages/client/src/types";

/**
 * The buffered `track()`'s rules, with the service scripted (test/package/ runs it against
 * the real one): keys fixed per flush and reused on a retry, back-off, merging while the
 * service is down, zero sums, refusals, and a process that ends while the service is down.
 */

const ORG = "0b6d3f4e-1c2a-4b5d-8e9f-a0b1c2d3e4f5";
const down = () => new BillingClientError({ code: "NETWORK_ERROR", message: "connect ECONNREFUSED" });
const applied = (events: IncrementInput[]): IncrementManyResult => ({
  results: events.map((_, index) => ({ index, status: "applied" as const, entry: {} as never })),
});

function scripted(answers: ((events: IncrementInput[]) => IncrementManyResult | Error)[]) {
  const sent: IncrementInput[][] = [];
  const send = async ({ events }: { events: IncrementInput[] }) => {
    sent.push(events);
    const answer = (answers[sent.length - 1] ?? applied)(events);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { sent, send };
}

const quiet = { flushIntervalMs: 3_600_000, maxEvents: 1_000_000, flushOnExit: false };

describe("UsageTracker", () => {
  it("resends a failed flush with the same keys, and merges what was tracked meanwhile into one flush", async () => {
    const errors: TrackerError[] = [];
    const { sent, send } = scripted([() => down()]);
    const tracker = new UsageTracker(send, "client-1", { ...quiet, onError: (e) => errors.push(e) });
    tracker.track(ORG, "api_calls", 3);
    await tracker.flush(); // fails: kept, in back-off
    tracker.track(ORG, "api_calls", 2);
    await tracker.flush(); // in back-off: sends nothing, cuts a second flush
    tracker.track(ORG, "api_calls", 5);
    await tracker.flush(); // merged into that second, never-sent flush
    expect(sent).toHaveLength(1);
    expect(tracker.getStats().pendingFlushes).toBe(2);
    expect(await tracker.close(5_000)).toBe(true);
    const [first, retry, merged] = sent.map((events) => events.map((e) => [e.idempotencyKey, e.amount]));
    expect(first).toEqual([["track:client-1:1:0", 3n]]);
    expect(retry).toEqual(first); // the same key: applied once, however many times it is sent
    // The 2 and the 5 in one event, under a key no send ever used (never-sent flushes are re-cut).
    expect(merged).toEqual([[expect.not.stringMatching(/^track:client-1:1:/), 7n]]);
    expect(tracker.getStats().confirmed).toEqual({ api_calls: 10n });
    expect(errors.map((e) => e.kind)).toEqual(["flush_failed"]);
  });

  it("sends no zero sum, reports refusals and rejected events, and survives a throwing onError", async () => {
    const kinds: string[] = [];
    const { sent, send } = scripted([
      () => new BillingClientError({ code: "FORBIDDEN", message: "scope_missing", httpStatus: 403 }),
      (events) => ({
        results: events.map((_, index) => ({ index, status: "rejected" as const, reason: { code: "org_not_found", message: "no" } })),
      }),
    ]);
    const tracker = new UsageTracker(send, "client-2", {
      ...quiet,
      onError: (e) => {
        kinds.push(e.kind);
        throw new Error("the app's callback broke");
      },
    });
    tracker.track(ORG, "storage_bytes", 10);
    tracker.track(ORG, "storage_bytes", -10);
    tracker.track(ORG, "api_calls");
    await tracker.flush();
    expect(sent).toEqual([[expect.objectContaining({ metric: "api_calls", amount: 1n })]]);
    tracker.track(ORG, "api_calls");
    await tracker.flush();
    expect(await tracker.close()).toBe(true);
    tracker.track(ORG, "api_calls");
    expect(kinds).toEqual(["flush_refused", "event_rejected", "tracked_after_close"]);
    expect(tracker.getStats()).toMatchObject({ rejectedEvents: 1, confirmed: {} });
  });

  it("reports what close() could not send in time", async () => {
    const unsent: IncrementInput[][] = [];
    const { send } = scripted(Array(100).fill(() => down()));
    const tracker = new UsageTracker(send, "client-3", { ...quiet, onError: (e) => e.kind === "unsent_at_close" && unsent.push(e.events) });
    tracker.track(ORG, "api_calls", 4);
    expect(await tracker.close(300)).toBe(false);
    expect(unsent).toEqual([[expect.objectContaining({ amount: 4n, idempotencyKey: "track:client-3:1:0" })]]);
  });

  it("lets a process whose event loop ran dry exit while the service is down", async () => {
    const dist = path.resolve("packages/client/dist/index.js");
    const script = `
      import { createBillingClient } from ${JSON.stringify(dist)};
      const billing = createBillingClient({ url: "http://127.0.0.1:9/api/trpc", apiKey: "bk_x", timeoutMs: 200,
        tracker: { exitTimeoutMs: 1000, onError: (e) => e.kind === "unsent_at_close" && console.log("unsent", e.events.length) } });
      billing.track("${ORG}", "api_calls", 2);`;
    const started = Date.now();
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { timeout: 60_000 });
    expect(stdout.trim()).toBe("unsent 1");
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
