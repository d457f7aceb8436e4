import type { IncomingMessage } from "node:http";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { directCall } from "@/server/api/product-api-direct";
import { isApiKeyCall } from "@/server/api/product-api-http";
import { ApiKeyService, revokeApiKeyAsStaff, type ApiScope } from "@/server/billing/api-keys";
import { db as processDb } from "@/server/db/client";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";
import { startRouteServer, type RouteServer } from "../helpers/route-server";

/**
 * The product API's two ways in answer alike: the lean path scripts/next-server.ts serves
 * API-key calls on in production (tRPC's node adapter, src/server/api/product-api-http.ts)
 * and Next's route module (BILLING_API_VIA_NEXT=1). The same raw requests — successes,
 * the error map, refused scopes and keys, the input edge's refusals — go to a server of each
 * kind over real HTTP and must get the same status and the same answer. (The other suites
 * run on the lean path too: it is the route server's default, as it is the real server's.)
 */
const { prisma } = testDatabase();

let lean: RouteServer;
let route: RouteServer;
let fullKey: string;
let readOnlyKey: string;
let orgId: string;

const createKey = async (scopes: ApiScope[]) =>
  (await new ApiKeyService(prisma).create({ name: `lean-path-${scopes.join("+")}`, scopes, createdBy: "vitest" })).secret;

beforeAll(async () => {
  lean = await startRouteServer({ productApi: "lean" });
  route = await startRouteServer({ productApi: "route" });
  fullKey = await createKey(["usage:read", "usage:write", "entitlements:read"]);
  readOnlyKey = await createKey(["usage:read"]);
  orgId = (await newOrg(prisma)).id;
});
afterAll(async () => {
  await lean.close();
  await route.close();
  await processDb().close();
});

interface RawCall {
  procedure: string;
  /** The superjson envelope as JSON text (so escapes reach the server as written). */
  input: string;
  mutation?: boolean;
  key?: string | null;
  /** A raw query string instead of `?input=` (batch calls). */
  query?: string;
}

interface Answer {
  status: number;
  body: unknown;
}

async function send(server: RouteServer, call: RawCall): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (call.key !== null) headers.authorization = `Bearer ${call.key ?? fullKey}`;
  const url = `${server.origin}/api/trpc/${call.procedure}`;
  const response = call.mutation
    ? await fetch(`${url}${call.query ?? ""}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: call.input,
      })
    : await fetch(`${url}${call.query ?? `?input=${encodeURIComponent(call.input)}`}`, { headers });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  return { status: response.status, body };
}

/**
 * What may differ between two correct answers: fresh ids, keys and clocks, the counts a
 * second consume moved on, superjson's note that two values happen to be equal, stack traces.
 */
const VARYING = /^(id|timestamp|windowStart|windowEnd|entryId|idempotencyKey|used|remaining|count)$/;
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key !== "stack" && key !== "referentialEqualities")
        .map(([key, v]) => [key, VARYING.test(key) ? typeof v : stable(v)]),
    );
  }
  return value;
}

const envelope = (json: unknown) => JSON.stringify({ json });

describe("the lean path and Next's route answer alike", () => {
  const cases: [string, () => RawCall, number][] = [
    ["check", () => ({ procedure: "billing.entitlements.check", input: envelope({ orgId, action: "api.call" }) }), 200],
    [
      "consume with a key (each server its own key)",
      () => ({
        procedure: "billing.entitlements.consume",
        mutation: true,
        input: envelope({ orgId, action: "member.add", idempotencyKey: `lean-${uniqueSuffix()}` }),
      }),
      200,
    ],
    ["usage.get", () => ({ procedure: "billing.usage.get", input: envelope({ orgId }) }), 200],
    [
      "a batch of two calls",
      () => ({
        procedure: "billing.usage.get,billing.entitlements.check",
        input: "",
        query: `?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { json: { orgId } }, 1: { json: { orgId, action: "member.add" } } }))}`,
      }),
      200,
    ],
    ["bad input (zod)", () => ({ procedure: "billing.entitlements.check", input: envelope({ orgId: "nope", action: "api.call" }) }), 400],
    ["an unknown org", () => ({ procedure: "billing.usage.get", input: envelope({ orgId: "00000000-0000-4000-8000-00000000dead" }) }), 404],
    [
      "a refused scope",
      () => ({
        procedure: "billing.entitlements.consume",
        mutation: true,
        key: readOnlyKey,
        input: envelope({ orgId, action: "member.add" }),
      }),
      403,
    ],
    [
      "an invalid key",
      () => ({ procedure: "billing.entitlements.check", key: "bk_not_a_key", input: envelope({ orgId, action: "api.call" }) }),
      401,
    ],
    ["no key", () => ({ procedure: "billing.entitlements.check", key: null, input: envelope({ orgId, action: "api.call" }) }), 401],
    ["a staff procedure with an API key", () => ({ procedure: "billing.apiKeys.list", input: envelope(undefined) }), 401],
    [
      "text PostgreSQL cannot store (input edge)",
      () => ({
        procedure: "billing.usage.increment",
        mutation: true,
        input: `{"json":{"orgId":"${orgId}","metric":"members","amount":"1","reason":"member_added","idempotencyKey":"a\\u0000b"}}`,
      }),
      400,
    ],
    [
      "malformed superjson meta (input edge)",
      () => ({
        procedure: "billing.entitlements.check",
        input: JSON.stringify({ json: { orgId, action: "api.call" }, meta: { values: { orgId: ["custom", "x"] } } }),
      }),
      400,
    ],
    [
      "input nested too deep (input edge)",
      () => ({
        procedure: "billing.entitlements.check",
        input: envelope({ orgId, action: "api.call", deep: JSON.parse("[".repeat(80) + "]".repeat(80)) as unknown }),
      }),
      400,
    ],
    ["a body that is not JSON", () => ({ procedure: "billing.usage.increment", mutation: true, input: "{not json" }), 400],
    ["a query without input", () => ({ procedure: "billing.entitlements.check", input: "", query: "" }), 400],
    ["a path that is no procedure", () => ({ procedure: "billing.nothing.here", input: envelope({ orgId }) }), 404],
    [
      "a mutation sent as a query",
      () => ({ procedure: "billing.entitlements.consume", input: envelope({ orgId, action: "member.add", idempotencyKey: "k" }) }),
      405,
    ],
    [
      "a query sent as a mutation",
      () => ({ procedure: "billing.entitlements.check", mutation: true, input: envelope({ orgId, action: "api.call" }) }),
      405,
    ],
  ];

  it.each(cases)("%s", async (_name, make, status) => {
    const call = make();
    const [viaLean, viaRoute] = [
      await send(lean, call),
      await send(route, call.procedure.includes("consume") && call.mutation && status === 200 ? make() : call),
    ];
    expect(viaLean.status).toBe(status);
    expect(viaRoute.status).toBe(status);
    expect(stable(viaLean.body)).toEqual(stable(viaRoute.body));
  });

  it("a consume replayed on the other path is the same entry: one ledger row", async () => {
    const call: RawCall = {
      procedure: "billing.entitlements.consume",
      mutation: true,
      input: envelope({ orgId, action: "member.add", idempotencyKey: `replay-${uniqueSuffix()}` }),
    };
    const first = (await send(lean, call)).body as { result: { data: { json: { entry: { id: string } } } } };
    const again = (await send(route, call)).body as { result: { data: { json: { entry: { id: string }; replayed: boolean } } } };
    expect(again.result.data.json.entry.id).toBe(first.result.data.json.entry.id);
  });

  it("a key revoked by staff is refused on the lean path's very next call (no cached acceptance)", async () => {
    const { key, secret } = await new ApiKeyService(prisma).create({
      name: "lean-revoke",
      scopes: ["entitlements:read"],
      createdBy: "vitest",
    });
    const call: RawCall = { procedure: "billing.entitlements.check", key: secret, input: envelope({ orgId, action: "api.call" }) };
    expect((await send(lean, call)).status).toBe(200);
    await revokeApiKeyAsStaff(prisma, key.id, "staff:vitest@example.com");
    const refused = await send(lean, call);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: { json: { data: { reason: "api_key_revoked" } } } });
  });

  it("answers one unbatched query (GET) or JSON mutation (POST) itself; leaves the rest to tRPC's adapter", () => {
    const req = (method: string, url: string, headers: Record<string, string> = {}) => ({ method, url, headers }) as IncomingMessage;
    const json = { "content-type": "application/json" };
    const base = "/api/trpc/";
    expect(directCall(req("GET", "/api/trpc/billing.entitlements.check?input=x"), base)?.path).toBe("billing.entitlements.check");
    expect(directCall(req("POST", "/api/trpc/billing.entitlements.consume", json), base)?.path).toBe("billing.entitlements.consume");
    expect(directCall(req("GET", "/api/trpc/billing.usage.get%2Cbilling.entitlements.check?batch=1&input=x"), base)).toBeUndefined();
    expect(directCall(req("GET", "/api/trpc/billing.nothing.here?input=x"), base)).toBeUndefined();
    expect(directCall(req("GET", "/api/trpc/billing.entitlements.consume?input=x"), base)).toBeUndefined();
    expect(directCall(req("POST", "/api/trpc/billing.entitlements.check", json), base)).toBeUndefined();
    expect(directCall(req("POST", "/api/trpc/billing.entitlements.consume", { "content-type": "text/plain" }), base)).toBeUndefined();
    expect(
      directCall(req("GET", "/api/trpc/billing.entitlements.check?input=x", { "trpc-accept": "application/jsonl" }), base),
    ).toBeUndefined();
    expect(directCall(req("GET", "/api/trpc/toString?input=x"), base)).toBeUndefined();
  });

  it("takes exactly the calls under /api/trpc/ that carry a bearer credential", () => {
    const req = (url: string, authorization?: string) => ({ url, headers: authorization ? { authorization } : {} }) as IncomingMessage;
    expect(isApiKeyCall(req("/api/trpc/billing.entitlements.check?input=x", "Bearer bk_x"))).toBe(true);
    expect(isApiKeyCall(req("/api/trpc/billing.usage.get", "bearer  bk_x"))).toBe(true);
    expect(isApiKeyCall(req("/api/trpc/billing.usage.get"))).toBe(false); // staff: cookies, Next
    expect(isApiKeyCall(req("/api/trpc/billing.usage.get", "Basic eDp5"))).toBe(false);
    expect(isApiKeyCall(req("/api/trpcx/a", "Bearer bk_x"))).toBe(false);
    expect(isApiKeyCall(req("/api/health", "Bearer bk_x"))).toBe(false);
  });
});
