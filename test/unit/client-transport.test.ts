import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

import superjson from "superjson";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

import { createBillingClient } from "../../packages/client/src";

/**
 * How the client sends (packages/client/src/http-exchange.ts): in Node, its own keep-alive
 * `node:http` (a third of `fetch`'s CPU per call), never the global `fetch`; the app's own
 * `fetch` when it passes one; the global `fetch` where Node's modules cannot be had (a browser,
 * an edge runtime). The wire is the same either way: the server below sees the same requests.
 */

const seen: { method?: string; url?: string; headers: IncomingMessage["headers"]; body: string; socket: number }[] = [];
const sockets = new Map<object, number>();
const server = createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size + 1);
    seen.push({ method: req.method, url: req.url, headers: req.headers, body, socket: sockets.get(req.socket) ?? 0 });
    const data = { allowed: true, plan: "free", subscriptionStatus: "none", used: 2n ** 40n, limit: null };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ result: { data: superjson.serialize(data) } }));
  });
});
let url = "";
const ORG = "0b6d3f4e-1c2a-4b5d-8e9f-a0b1c2d3e4f5";

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/trpc/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
afterEach(() => {
  seen.length = 0;
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/** A check and a consume; what the server saw of them, and the answers. */
async function exchangeTwo(client: ReturnType<typeof createBillingClient>) {
  const check = await client.check({ orgId: ORG, action: "api.call" });
  const consume = await client.consume({ orgId: ORG, action: "api.call", idempotencyKey: "k-1" });
  return {
    check,
    consume,
    requests: seen.map(({ method, url, headers, body }) => ({
      method,
      url,
      auth: headers.authorization,
      type: headers["content-type"],
      body,
    })),
  };
}

describe("the client's HTTP", () => {
  it("in Node sends with node:http over one kept-alive connection, never the global fetch", async () => {
    const globalFetch = vi.fn(() => Promise.reject(new Error("the global fetch must not be used")));
    vi.stubGlobal("fetch", globalFetch);
    const client = createBillingClient({ url, apiKey: "bk_test" });
    const { check, requests } = await exchangeTwo(client);
    await client.check({ orgId: ORG, action: "member.add" });
    expect(globalFetch).not.toHaveBeenCalled();
    expect(check).toMatchObject({ allowed: true, used: 2n ** 40n });
    expect(requests[0]).toMatchObject({ method: "GET", auth: "Bearer bk_test", body: "" });
    expect(requests[0]?.url).toMatch(/^\/api\/trpc\/billing\.entitlements\.check\?input=/);
    expect(requests[1]).toMatchObject({ method: "POST", url: "/api/trpc/billing.entitlements.consume", type: "application/json" });
    expect(superjson.deserialize(JSON.parse(requests[1]?.body ?? "null"))).toMatchObject({ orgId: ORG, idempotencyKey: "k-1" });
    // Keep-alive: the three calls, one after another, on one connection.
    expect(new Set(seen.map((s) => s.socket)).size).toBe(1);
  });

  it("sends the same requests through the app's own fetch when it passes one", async () => {
    const own = vi.fn((input: string | URL | Request, init?: RequestInit) => fetch(input, init));
    const { requests: viaFetch } = await exchangeTwo(createBillingClient({ url, apiKey: "bk_test", fetch: own }));
    expect(own).toHaveBeenCalledTimes(2);
    seen.length = 0;
    const { requests: viaNode } = await exchangeTwo(createBillingClient({ url, apiKey: "bk_test" }));
    expect(viaFetch).toEqual(viaNode);
  });

  it("uses the global fetch where Node's modules cannot be had (a browser, an edge runtime)", async () => {
    const globalFetch = vi.fn();
    const realFetch = globalThis.fetch;
    vi.stubGlobal("fetch", (input: string | URL | Request, init?: RequestInit) => {
      globalFetch(input, init);
      return realFetch(input, init);
    });
    vi.spyOn(process, "getBuiltinModule").mockImplementation((() => undefined) as typeof process.getBuiltinModule);
    const { check } = await exchangeTwo(createBillingClient({ url, apiKey: "bk_test" }));
    expect(check).toMatchObject({ allowed: true });
    expect(globalFetch).toHaveBeenCalledTimes(2);
  });
});
