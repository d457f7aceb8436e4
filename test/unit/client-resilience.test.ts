import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createBillingClient, isBillingError, stringifyJSON, toJSONSafe } from "../../packages/client/src";
import { DecisionCache } from "../../packages/client/src/decision-cache";

/**
 * The client's own rules — retries, deadlines, the check cache, the JSON helper — against a
 * scripted HTTP server that speaks the API's wire format, so each failure mode is exact and
 * counted. test/package/client-package.test.ts runs the packed client against the real server.
 */

type Script = (req: IncomingMessage, res: ServerResponse, call: number) => void;
let script: Script = () => undefined;
const calls: string[] = [];
const server = createServer((req, res) => {
  calls.push(`${req.method} ${req.url?.split("?")[0]}`);
  script(req, res, calls.length);
});
let url = "";

const ORG = "0b6d3f4e-1c2a-4b5d-8e9f-a0b1c2d3e4f5";
const decision = { allowed: true, plan: "pro", subscriptionStatus: "active", used: 3n, limit: 10n };
const answer = (res: ServerResponse, data: unknown) =>
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ result: { data: superjson.serialize(data) } }));
const unavailable = (res: ServerResponse) => res.writeHead(503, { "content-type": "text/html" }).end("<h1>503</h1>");

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/trpc`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function fresh(options: Partial<Parameters<typeof createBillingClient>[0]> = {}) {
  calls.length = 0;
  return createBillingClient({ url, apiKey: "bk_test", retry: { initialDelayMs: 1, maxDelayMs: 2 }, ...options });
}

describe("billing client resilience", () => {
  it("retries a query through two 503s and answers, bigints intact", async () => {
    script = (_req, res, call) => (call < 3 ? unavailable(res) : answer(res, decision));
    const result = await fresh().check({ orgId: ORG, action: "member.add" });
    expect(result).toMatchObject({ allowed: true, used: 3n, limit: 10n });
    expect(calls).toEqual(Array(3).fill("GET /api/trpc/billing.entitlements.check"));
  });

  it("retries a consume (it always carries its key) but never an increment without one", async () => {
    script = (_req, res, call) => (call < 2 ? unavailable(res) : answer(res, { ...decision, replayed: false }));
    expect(await fresh().consume({ orgId: ORG, action: "member.add", idempotencyKey: "k1" })).toMatchObject({ allowed: true });
    expect(calls).toHaveLength(2);

    script = (_req, res) => unavailable(res);
    const client = fresh();
    const error = await client.increment({ orgId: ORG, metric: "api_calls", amount: 1, reason: "api_call" }).catch((e: unknown) => e);
    expect(isBillingError(error) && error.code).toBe("BAD_RESPONSE");
    expect(calls).toHaveLength(1);
    await client.increment({ orgId: ORG, metric: "api_calls", amount: 1, reason: "api_call", idempotencyKey: "k2" }).catch(() => undefined);
    expect(calls).toHaveLength(4);
  });

  it("does not retry an answer: a refusal is thrown at once with its code and reason", async () => {
    script = (_req, res) =>
      res.writeHead(400, { "content-type": "application/json" }).end(
        JSON.stringify({
          error: superjson.serialize({
            message: "orgId: bad",
            code: -32600,
            data: { code: "BAD_REQUEST", httpStatus: 400, reason: "invalid_input", zodIssues: [{ path: ["orgId"], message: "bad" }] },
          }),
        }),
      );
    const error = await fresh()
      .usage("nope")
      .catch((e: unknown) => e);
    expect(isBillingError(error)).toBe(true);
    expect(error).toMatchObject({
      code: "BAD_REQUEST",
      reason: "invalid_input",
      httpStatus: 400,
      issues: [{ path: ["orgId"] }],
      unavailable: false,
    });
    expect(calls).toHaveLength(1);
  });

  it("keeps the whole call, retries included, within timeoutMs", async () => {
    script = () => undefined; // never answers
    const started = Date.now();
    const error = await fresh({ timeoutMs: 300 })
      .snapshot({ orgId: ORG })
      .catch((e: unknown) => e);
    expect(isBillingError(error) && error.code).toBe("TIMEOUT");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(calls).toHaveLength(1); // no budget was left for a retry
  });

  it("aborts on the caller's signal with ABORTED", async () => {
    let arrived: () => void = () => undefined;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    script = () => arrived(); // holds the request, never answers
    const controller = new AbortController();
    const pending = fresh({ timeoutMs: 60_000 }).usage(ORG, { signal: controller.signal });
    await requestArrived;
    controller.abort();
    const error = await pending.catch((e: unknown) => e);
    expect(isBillingError(error) && error.code).toBe("ABORTED");
  });

  it("reuses a check answer within its TTL, and forgets the org's answers when it consumes", async () => {
    script = (req, res) => answer(res, req.method === "GET" ? decision : { ...decision, replayed: false });
    const client = fresh({ checkCache: { ttlMs: 60_000 } });
    await client.check({ orgId: ORG, action: "member.add" });
    await client.check({ orgId: ORG.toUpperCase(), action: "member.add" });
    expect(calls).toHaveLength(1);
    await client.consume({ orgId: ORG, action: "member.add", idempotencyKey: "k3" });
    await client.check({ orgId: ORG, action: "member.add" });
    expect(calls).toHaveLength(3);
  });

  it("never caches a fallback", async () => {
    script = (_req, res) => unavailable(res);
    const client = fresh({ checkCache: { ttlMs: 60_000 }, retry: { attempts: 1 } });
    expect(await client.check({ orgId: ORG, action: "member.add" })).toMatchObject({ allowed: false, fallback: true });
    script = (_req, res) => answer(res, decision);
    expect(await client.check({ orgId: ORG, action: "member.add" })).toMatchObject({ allowed: true, plan: "pro" });
  });
});

describe("DecisionCache", () => {
  const d = { ...decision, allowed: true as const, plan: "pro" as const };
  const put = (cache: DecisionCache, org: string, amount: bigint | undefined, now: number) =>
    cache.set(DecisionCache.key(org, "x", amount), d, org, cache.generation(org), now);

  it("expires entries, bounds its size oldest first, and invalidates one org", () => {
    const cache = new DecisionCache({ ttlMs: 100, maxEntries: 2 });
    put(cache, "a", undefined, 0);
    expect(cache.get(DecisionCache.key("a", "x", undefined), 99)).toBe(d);
    expect(cache.get(DecisionCache.key("a", "x", undefined), 100)).toBeUndefined();
    put(cache, "A", undefined, 0);
    put(cache, "b", 1n, 0);
    put(cache, "c", 1n, 0);
    expect(cache.get(DecisionCache.key("a", "x", undefined), 1)).toBeUndefined();
    cache.invalidate("B");
    expect(cache.get(DecisionCache.key("b", "x", 1n), 1)).toBeUndefined();
    expect(cache.get(DecisionCache.key("c", "x", 1n), 1)).toBe(d);
  });

  it("does not store an answer asked for before the org was invalidated (a check racing a consume)", () => {
    const cache = new DecisionCache({ ttlMs: 100 });
    const asked = cache.generation("a");
    cache.invalidate("a"); // the consume lands while the check is on its way
    cache.set(DecisionCache.key("a", "x", undefined), d, "a", asked, 0);
    expect(cache.get(DecisionCache.key("a", "x", undefined), 1)).toBeUndefined();
    const askedAll = cache.generation("b");
    cache.invalidate();
    cache.set(DecisionCache.key("b", "x", undefined), d, "b", askedAll, 0);
    expect(cache.get(DecisionCache.key("b", "x", undefined), 1)).toBeUndefined();
  });
});

describe("bigint-safe JSON", () => {
  it("writes bigints as exact decimal strings and Dates as ISO, nested and in arrays", () => {
    const value = { count: 2n ** 63n - 1n, at: new Date("2026-12-02T00:00:00Z"), list: [1n, { x: -5n }], none: null, skip: undefined };
    expect(toJSONSafe(value)).toEqual({
      count: "9223372036854775807",
      at: "2026-12-02T00:00:00.000Z",
      list: ["1", { x: "-5" }],
      none: null,
    });
    expect(JSON.parse(stringifyJSON(value))).toEqual(toJSONSafe(value));
    expect(() => JSON.stringify(value)).toThrow(/BigInt/);
  });
});
