import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createCaller } from "@/server/api/root";
import { createTRPCContext } from "@/server/api/trpc";
import { ApiKeyService, type ApiScope } from "@/server/billing/api-keys";

import { newOrg, testDatabase } from "../helpers/db";

const { prisma } = testDatabase();
const keys = new ApiKeyService(prisma);
const ALL: ApiScope[] = ["usage:read", "usage:write", "entitlements:read"];

async function callerWith(authorization?: string) {
  const headers = new Headers(authorization ? { authorization } : {});
  return createCaller(await createTRPCContext({ headers, db: () => prisma }));
}

async function keyWith(scopes: ApiScope[]) {
  const { secret, key } = await keys.create({ name: `test-${scopes.join("+")}`, scopes, createdBy: "vitest" });
  return { secret, key, bearer: `Bearer ${secret}` };
}

/**
 * The tRPC code, zod paths and domain reason of a failed call. `createCaller` throws the
 * TRPCError itself (the errorFormatter shapes only what goes over the wire), so read the
 * cause: the ZodError's issues, or the BillingError's reason.
 */
async function failure(call: () => Promise<unknown>) {
  try {
    await call();
  } catch (error) {
    expect(error).toBeInstanceOf(TRPCError);
    const e = error as TRPCError;
    const cause = e.cause as { issues?: { path: PropertyKey[] }[]; reason?: string } | undefined;
    return {
      code: e.code,
      paths: (cause?.issues ?? []).map((i) => i.path.map(String).join(".")),
      reason: cause?.reason ?? null,
    };
  }
  throw new Error("expected the call to fail");
}

// Over real HTTP through the app's route: billing-api-http.test.ts and api-key-scopes.test.ts.
describe("billing API through createCaller", () => {
  it("every product-app procedure works with a fully scoped key", async () => {
    const { bearer } = await keyWith(ALL);
    const api = await callerWith(bearer);
    const org = await newOrg(prisma);
    const inc = await api.billing.usage.increment({
      orgId: org.id,
      metric: "members",
      amount: 2n,
      reason: "member_added",
      idempotencyKey: "a",
    });
    expect(inc).toMatchObject({ count: 2n, replayed: false, entry: { actor: "api_key:test-usage:read+usage:write+entitlements:read" } });
    const many = await api.billing.usage.incrementMany({
      events: [
        { orgId: org.id, metric: "teams", amount: 1, reason: "team_created" },
        { orgId: org.id, metric: "teams", amount: 1, reason: "team_created", idempotencyKey: "t" },
        { orgId: org.id, metric: "teams", amount: 1, reason: "team_created", idempotencyKey: "t" },
      ],
    });
    expect(many.results.map((r) => r.status)).toEqual(["applied", "applied", "duplicate"]);
    const usage = await api.billing.usage.get({ orgId: org.id });
    expect(usage.metrics.find((m) => m.metric === "members")).toMatchObject({ count: 2n, limit: 5n, remaining: 3n });
    const check = await api.billing.entitlements.check({ orgId: org.id, action: "member.add", amount: 4n });
    expect(check).toMatchObject({ allowed: false, reason: { code: "limit_exceeded" } });
    const consumed = await api.billing.entitlements.consume({ orgId: org.id, action: "member.add", idempotencyKey: "invite-1" });
    expect(consumed).toMatchObject({ allowed: true, used: 3n, replayed: false });
    const unknown = await api.billing.entitlements.check({ orgId: "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a", action: "member.add" });
    expect(unknown).toMatchObject({ allowed: false, reason: { code: "org_not_found" } });
  });

  it("no key, a bad key and a revoked key are UNAUTHORIZED; a missing scope is FORBIDDEN", async () => {
    const org = await newOrg(prisma);
    const input = { orgId: org.id, action: "member.add" as const };
    expect(await failure(async () => (await callerWith()).billing.entitlements.check(input))).toMatchObject({ code: "UNAUTHORIZED" });
    expect(await failure(async () => (await callerWith("Bearer nope")).billing.entitlements.check(input))).toMatchObject({
      code: "UNAUTHORIZED",
    });
    const revoked = await keyWith(ALL);
    await keys.revoke(revoked.key.id);
    expect(await failure(async () => (await callerWith(revoked.bearer)).billing.entitlements.check(input))).toMatchObject({
      code: "UNAUTHORIZED",
      reason: "api_key_revoked",
    });
    const readOnly = await keyWith(["usage:read"]);
    const api = await callerWith(readOnly.bearer);
    expect(await failure(() => api.billing.entitlements.check(input))).toMatchObject({ code: "FORBIDDEN", reason: "scope_missing" });
    expect(
      await failure(() => api.billing.usage.increment({ orgId: org.id, metric: "members", amount: 1n, reason: "member_added" })),
    ).toMatchObject({
      code: "FORBIDDEN",
    });
    expect(await failure(() => api.billing.entitlements.consume({ ...input, idempotencyKey: "x" }))).toMatchObject({ code: "FORBIDDEN" });
    expect(await prisma.usageLedger.count({ where: { orgId: org.id } })).toBe(0);
    // The key's last use is recorded.
    const used = await prisma.apiKey.findUnique({ where: { id: readOnly.key.id } });
    expect(used?.lastUsedAt).toBeInstanceOf(Date);
  });

  it("an unknown org in the usage procedures is NOT_FOUND", async () => {
    const api = await callerWith((await keyWith(ALL)).bearer);
    const orgId = "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d";
    expect(await failure(() => api.billing.usage.get({ orgId }))).toMatchObject({ code: "NOT_FOUND", reason: "org_not_found" });
    expect(await failure(() => api.billing.usage.increment({ orgId, metric: "teams", amount: 1n, reason: "team_created" }))).toMatchObject({
      code: "NOT_FOUND",
    });
  });
});

describe("malformed input: BAD_REQUEST with a zod path, nothing written", () => {
  let api: Awaited<ReturnType<typeof callerWith>>;
  let orgId: string;
  beforeAll(async () => {
    api = await callerWith((await keyWith(ALL)).bearer);
    orgId = (await newOrg(prisma)).id;
  });
  afterAll(async () => {
    expect(await prisma.usageLedger.count({ where: { orgId } })).toBe(0);
    expect(await prisma.entitlementDenial.count({ where: { orgId } })).toBe(0);
  });

  const ok = () => ({ orgId, metric: "members", amount: 1n, reason: "member_added" });
  const malformed: Record<string, [string, () => Record<string, unknown>][]> = {
    increment: [
      ["orgId", () => ({ ...ok(), orgId: "not-a-uuid" })],
      ["orgId", () => ({ ...ok(), orgId: undefined })],
      ["metric", () => ({ ...ok(), metric: "seats" })],
      ["amount", () => ({ ...ok(), amount: 0 })],
      ["amount", () => ({ ...ok(), amount: 1.5 })],
      ["amount", () => ({ ...ok(), amount: "12abc" })],
      ["amount", () => ({ ...ok(), amount: 2n ** 64n })],
      ["reason", () => ({ ...ok(), reason: "Member Added" })],
      ["idempotencyKey", () => ({ ...ok(), idempotencyKey: "" })],
      ["metadata", () => ({ ...ok(), metadata: "not an object" })],
    ],
    incrementMany: [
      ["events", () => ({})],
      ["events", () => ({ events: [] })],
      ["events", () => ({ events: "x" })],
      ["events", () => ({ events: Array.from({ length: 10_001 }, ok) })],
      ["events.0", () => ({ events: [42] })],
      ["events.0", () => ({ events: [null] })],
      ["events.0", () => ({ events: [[ok()]] })],
      ["atomic", () => ({ events: [ok()], atomic: "yes" })],
      ["events.1", () => ({ events: [ok(), "str"] })],
      ["events", () => ({ events: null })],
    ],
    get: [
      ["orgId", () => ({})],
      ["orgId", () => ({ orgId: "" })],
      ["orgId", () => ({ orgId: 12 })],
      ["orgId", () => ({ orgId: "x".repeat(36) })],
      ["orgId", () => ({ orgId: null })],
      ["orgId", () => ({ orgId: [orgId] })],
      ["orgId", () => ({ orgId: `${orgId}x` })],
      ["orgId", () => ({ orgId: { id: orgId } })],
      ["orgId", () => ({ orgId: true })],
      ["orgId", () => ({ orgId: "00000000-0000-0000-0000-00000000000g" })],
    ],
    check: [
      ["orgId", () => ({ action: "member.add" })],
      ["orgId", () => ({ orgId: "nope", action: "member.add" })],
      ["action", () => ({ orgId })],
      ["action", () => ({ orgId, action: "member.invite" })],
      ["action", () => ({ orgId, action: "feature.teleport" })],
      ["action", () => ({ orgId, action: 7 })],
      ["amount", () => ({ orgId, action: "file.upload", amount: -5 })],
      ["amount", () => ({ orgId, action: "file.upload", amount: 0 })],
      ["amount", () => ({ orgId, action: "file.upload", amount: "big" })],
      ["amount", () => ({ orgId, action: "file.upload", amount: 1e300 })],
    ],
    consume: [
      ["idempotencyKey", () => ({ orgId, action: "member.add" })],
      ["idempotencyKey", () => ({ orgId, action: "member.add", idempotencyKey: 5 })],
      ["idempotencyKey", () => ({ orgId, action: "member.add", idempotencyKey: "k".repeat(300) })],
      ["orgId", () => ({ orgId: "bad", action: "member.add", idempotencyKey: "k" })],
      ["action", () => ({ orgId, action: "members.add", idempotencyKey: "k" })],
      ["action", () => ({ orgId, action: null, idempotencyKey: "k" })],
      ["amount", () => ({ orgId, action: "file.upload", amount: -1n, idempotencyKey: "k" })],
      ["amount", () => ({ orgId, action: "file.upload", amount: 0.5, idempotencyKey: "k" })],
      ["metadata", () => ({ orgId, action: "member.add", idempotencyKey: "k", metadata: [1] })],
      ["metadata", () => ({ orgId, action: "member.add", idempotencyKey: "k", metadata: { big: "x".repeat(20_000) } })],
    ],
  };

  for (const [procedure, cases] of Object.entries(malformed)) {
    it.each(cases.map(([path, make], i) => ({ i, path, make })))(`${procedure} #$i → BAD_REQUEST at $path`, async ({ path, make }) => {
      const route = procedure === "check" || procedure === "consume" ? api.billing.entitlements : api.billing.usage;
      const call = (route as unknown as Record<string, (input: unknown) => Promise<unknown>>)[procedure] as (
        input: unknown,
      ) => Promise<unknown>;
      const result = await failure(() => call(make()));
      expect(result.code).toBe("BAD_REQUEST");
      expect(result.paths.some((p) => p === path || p.startsWith(`${path}.`))).toBe(true);
    });
  }
});
