import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { BillingClient } from "@/client";
import { appRouter } from "@/server/api/root";
import { API_SCOPES, type ApiScope } from "@/server/billing/api-keys";
import { db as processDb } from "@/server/db/client";

import { billingClient, errorData } from "../helpers/billing-client";
import { newOrg, testDatabase } from "../helpers/db";
import { startRouteServer, type RouteServer } from "../helpers/route-server";

/**
 * The API-key scope matrix over real HTTP through the app's tRPC route: every product-app
 * procedure × every set of scopes a key can hold. A call is allowed exactly when the key
 * holds every scope the README's table names for it, else FORBIDDEN — and a refused call
 * writes nothing (no ledger row, no denial).
 */
const { prisma } = testDatabase();

type Procedure =
  "usage.increment" | "usage.incrementMany" | "usage.get" | "entitlements.check" | "entitlements.consume" | "entitlements.snapshot";

/** The README's table ("The product app's API"), written out rather than read from the code. */
const REQUIRED: Record<Procedure, ApiScope[]> = {
  "usage.increment": ["usage:write"],
  "usage.incrementMany": ["usage:write"],
  "usage.get": ["usage:read"],
  "entitlements.check": ["entitlements:read"],
  "entitlements.consume": ["entitlements:read", "usage:write"],
  "entitlements.snapshot": ["entitlements:read"],
};

/** A valid call of each procedure on a fresh org, and the ledger rows it writes when allowed. */
const CALLS: Record<Procedure, { call: (c: BillingClient, orgId: string) => Promise<unknown>; writes: number }> = {
  "usage.increment": {
    call: (c, orgId) => c.billing.usage.increment.mutate({ orgId, metric: "members", amount: 1n, reason: "member_added" }),
    writes: 1,
  },
  "usage.incrementMany": {
    call: (c, orgId) =>
      c.billing.usage.incrementMany.mutate({
        events: [
          { orgId, metric: "teams", amount: 1n, reason: "team_created" },
          { orgId, metric: "api_calls", amount: 3n, reason: "api_call" },
        ],
      }),
    writes: 2,
  },
  "usage.get": { call: (c, orgId) => c.billing.usage.get.query({ orgId }), writes: 0 },
  "entitlements.check": { call: (c, orgId) => c.billing.entitlements.check.query({ orgId, action: "member.add" }), writes: 0 },
  "entitlements.consume": {
    call: (c, orgId) => c.billing.entitlements.consume.mutate({ orgId, action: "member.add", idempotencyKey: "scope-matrix" }),
    writes: 1,
  },
  "entitlements.snapshot": { call: (c, orgId) => c.billing.entitlements.snapshot.query({ orgId }), writes: 0 },
};

/** Every subset of the scopes: none, each single one, each pair, all. */
const SCOPE_SETS: ApiScope[][] = API_SCOPES.reduce<ApiScope[][]>((sets, scope) => [...sets, ...sets.map((s) => [...s, scope])], [[]]);

let server: RouteServer;
const clients = new Map<string, BillingClient>();
const label = (scopes: ApiScope[]) => (scopes.length ? scopes.join("+") : "no scopes");

beforeAll(async () => {
  server = await startRouteServer();
  for (const scopes of SCOPE_SETS) {
    // A key is created with at least one scope; the empty set is a key whose scopes were emptied in the table.
    const { client, keyId } = await billingClient(prisma, server, scopes.length ? scopes : ["usage:read"]);
    if (!scopes.length) await prisma.apiKey.update({ where: { id: keyId }, data: { scopes: [] } });
    clients.set(label(scopes), client);
  }
});
afterAll(async () => {
  await server.close();
  await processDb().close();
});

describe("API-key scope matrix over HTTP", () => {
  it("covers every subset of the scopes, and the table matches what each procedure declares", () => {
    expect(SCOPE_SETS).toHaveLength(2 ** API_SCOPES.length);
    const declared = appRouter._def.procedures as unknown as Record<string, { _def: { meta?: { auth: string; scopes?: string[] } } }>;
    const productApp = Object.keys(declared).filter((path) => declared[path]?._def.meta?.auth === "api_key");
    expect(productApp.sort()).toEqual(
      Object.keys(REQUIRED)
        .map((p) => `billing.${p}`)
        .sort(),
    );
    for (const [procedure, scopes] of Object.entries(REQUIRED)) {
      expect([...(declared[`billing.${procedure}`]?._def.meta?.scopes ?? [])].sort(), procedure).toEqual([...scopes].sort());
    }
  });

  const cases = (Object.keys(REQUIRED) as Procedure[]).flatMap((procedure) =>
    SCOPE_SETS.map((scopes) => ({ procedure, scopes: label(scopes), allowed: REQUIRED[procedure].every((s) => scopes.includes(s)) })),
  );

  it.each(cases)("$procedure with $scopes → allowed: $allowed", async ({ procedure, scopes, allowed }) => {
    const org = await newOrg(prisma);
    const rows = () => prisma.usageLedger.count({ where: { orgId: org.id } });
    const denials = () => prisma.entitlementDenial.count({ where: { orgId: org.id } });
    const { call, writes } = CALLS[procedure];
    const pending = call(clients.get(scopes) as BillingClient, org.id);
    if (allowed) {
      await pending;
      expect(await rows()).toBe(writes);
    } else {
      expect(await errorData(pending)).toMatchObject({ code: "FORBIDDEN", httpStatus: 403, reason: "scope_missing" });
      expect(await rows()).toBe(0);
      expect(await denials()).toBe(0);
    }
  });
});
