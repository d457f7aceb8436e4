import { randomUUID } from "node:crypto";

import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Before the auth module reads it (its instance is created on first use, below).
process.env.BETTER_AUTH_SECRET ??= "vitest-staff-auth-secret-0123456789abcdef";
// billing.dodo.resync needs a Dodo API key configured (else PRECONDITION_FAILED). The matrix
// resyncs a fresh org with no subscription, so nothing is fetched; the base URL is a closed
// local port all the same, so nothing could ever leave the machine.
process.env.DODO_PAYMENTS_API_KEY = "matrix-test-key-never-sent";
process.env.DODO_PAYMENTS_BASE_URL = "http://127.0.0.1:9";

const { appRouter, createCaller } = await import("@/server/api/root");
const { createTRPCContext } = await import("@/server/api/trpc");
const { roleAtLeast, STAFF_ROLES, staffAuth } = await import("@/server/auth");
const { StaffService } = await import("@/server/auth/staff");
const { listAudit } = await import("@/server/billing/audit-log");
const { newOrg, testDatabase, uniqueSuffix } = await import("../helpers/db");
const { cookieHeader, STAFF_PASSWORD: PASSWORD } = await import("../helpers/staff-session");

type Role = (typeof STAFF_ROLES)[number];
type Who = Role | "anonymous";

const { prisma } = testDatabase();
const auth = staffAuth(prisma);
const staff = new StaffService(prisma, auth);

async function signIn(email: string, password = PASSWORD): Promise<Response> {
  return auth.api.signInEmail({ body: { email, password }, asResponse: true });
}

const users = {} as Record<Role, { id: string; email: string; cookie: string }>;

async function callerAs(who: Who) {
  const headers = new Headers(who === "anonymous" ? {} : { cookie: users[who].cookie });
  return createCaller(await createTRPCContext({ headers, db: () => prisma }));
}

async function codeOf(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return "OK";
  } catch (error) {
    if (error instanceof TRPCError) return error.code;
    throw error;
  }
}

beforeAll(async () => {
  const suffix = uniqueSuffix();
  for (const role of STAFF_ROLES) {
    const email = `${role}-${suffix}@staff.test`;
    const { staff: member } = await staff.create({ email, role, password: PASSWORD }, "vitest");
    const response = await signIn(email);
    expect(response.status, `sign-in of ${email}`).toBe(200);
    users[role] = { id: member.id, email, cookie: cookieHeader(response) };
  }
});

// ---------------------------------------------------------------------------------------
// Every procedure's declared role, read from its meta.
// ---------------------------------------------------------------------------------------

type Meta = { auth: "staff"; minRole: Role } | { auth: "api_key"; scopes: string[] } | { auth: "public" } | undefined;

const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { meta?: Meta; type: string } }>).map(
  ([path, procedure]) => ({ path, meta: procedure._def.meta, type: procedure._def.type }),
);

/** A webhook delivery as the handler stores one (payload without an envelope: never processable). */
function storedWebhookEvent(status: "processed" | "needs_attention") {
  return prisma.webhookEvent.create({
    data: { id: `msg_matrix_${uniqueSuffix()}`, type: "matrix.test", payload: { matrix: true }, status, attempts: 1 },
  });
}

/** A backfill run row with this status, last touched a minute ago (so a `running` one reads as interrupted). */
async function matrixBackfillRun(status: "running" | "completed" | "cancelled"): Promise<string> {
  const orgPrefix = `matrix-nothing-${uniqueSuffix()}`;
  const updatedAt = new Date(Date.now() - 60_000);
  const run = await prisma.backfillRun.create({
    data: { mode: "dry_run", status, orgPrefix, batchSize: 1, concurrency: 1, startedBy: "matrix test", updatedAt },
  });
  return run.id;
}

/**
 * Endpoints the matrix creates point at a public IP literal (no DNS, no private address) and
 * subscribe to one usage type only; they are disabled afterwards so no deliverer sends to them.
 */
const MATRIX_ENDPOINT = { url: "https://93.184.215.14/matrix-hook", eventTypes: ["usage.limit_reached" as const] };
afterAll(async () => {
  await prisma.webhookEndpoint.updateMany({ where: { url: MATRIX_ENDPOINT.url }, data: { enabled: false } });
});

async function matrixEndpoint(enabled = true): Promise<string> {
  const { id } = (await (await callerAs("admin")).billing.events.createEndpoint(MATRIX_ENDPOINT)).endpoint;
  if (!enabled) await prisma.webhookEndpoint.update({ where: { id }, data: { enabled: false } });
  return id;
}

/** A delivered test.ping delivery (to a disabled matrix endpoint), for reading and replaying. */
async function matrixDelivery(): Promise<string> {
  const endpointId = await matrixEndpoint(false);
  const { deliveryId } = await (await callerAs("admin")).billing.events.sendTest({ id: endpointId });
  await prisma.eventDelivery.update({ where: { id: deliveryId }, data: { status: "delivered" } });
  return deliveryId;
}

/** A threshold value no earlier call used: every allowed role adds one to the same org. */
let thresholdsAdded = 0n;
const nextThreshold = () => ++thresholdsAdded;

/**
 * A call of each staff procedure. The ones listed get valid input, so an allowed call must
 * succeed outright; any other (e.g. one a later issue adds) is called with no input: the role
 * check runs before input validation, so UNAUTHORIZED/FORBIDDEN still tell, and anything else
 * (BAD_REQUEST included) means the caller got past the role check.
 */
async function callEach(path: string, api: Awaited<ReturnType<typeof callerAs>>, orgId: string) {
  const b = api.billing;
  const calls: Record<string, () => Promise<unknown>> = {
    "billing.orgs.list": () => b.orgs.list({}),
    "billing.orgs.stats": () => b.orgs.stats(),
    "billing.staff.me": () => b.staff.me(),
    "billing.staff.list": () => b.staff.list(),
    "billing.staff.create": () => b.staff.create({ email: `new-${uniqueSuffix()}@staff.test`, role: "viewer" }),
    "billing.staff.setRole": () => b.staff.setRole({ id: users.viewer.id, role: "viewer" }),
    "billing.apiKeys.list": () => b.apiKeys.list(),
    "billing.apiKeys.create": () => b.apiKeys.create({ name: "matrix", scopes: ["usage:read"] }),
    "billing.apiKeys.revoke": async () => {
      const { key } = await (await callerAs("admin")).billing.apiKeys.create({ name: "to revoke", scopes: ["usage:read"] });
      return b.apiKeys.revoke({ id: key.id });
    },
    "billing.audit.list": () => b.audit.list({}),
    "billing.overrides.set": () => b.overrides.set({ orgId, metric: "members", kind: "hard", value: 50n, note: "matrix test" }),
    "billing.overrides.revoke": async () => {
      const o = await (await callerAs("admin")).billing.overrides.set({ orgId, metric: "teams", kind: "unlimited", note: "to revoke" });
      return b.overrides.revoke({ id: o.id });
    },
    "billing.overrides.list": () => b.overrides.list({ orgId }),
    "billing.alertThresholds.list": () => b.alertThresholds.list({ orgId }),
    "billing.alertThresholds.add": () => b.alertThresholds.add({ orgId, metric: "exports", kind: "absolute", value: nextThreshold() }),
    "billing.alertThresholds.remove": async () => {
      const t = await (
        await callerAs("admin")
      ).billing.alertThresholds.add({ orgId, metric: "exports", kind: "absolute", value: nextThreshold() });
      return b.alertThresholds.remove({ id: t.id });
    },
    "billing.orgs.get": () => b.orgs.get({ orgId }),
    "billing.orgs.denials": () => b.orgs.denials({ orgId }),
    "billing.orgs.adjust": () => b.orgs.adjust({ orgId, metric: "members", amount: 1n, note: "matrix test", idempotencyKey: randomUUID() }),
    "billing.dodo.overview": () => b.dodo.overview(),
    "billing.dodo.webhooks.list": () => b.dodo.webhooks.list({}),
    "billing.dodo.webhooks.get": async () => b.dodo.webhooks.get({ id: (await storedWebhookEvent("processed")).id }),
    // A stored event whose payload can never succeed: the replay runs (and still needs attention).
    "billing.dodo.webhooks.replay": async () => b.dodo.webhooks.replay({ id: (await storedWebhookEvent("needs_attention")).id }),
    "billing.dodo.usageReporting.status": () => b.dodo.usageReporting.status({}),
    "billing.dodo.usageReporting.rows": () => b.dodo.usageReporting.rows({}),
    "billing.dodo.subscription": () => b.dodo.subscription({ orgId }),
    "billing.dodo.resync": () => b.dodo.resync({ orgId }),
    // Backfill runs over a prefix no organization has: they end at once and touch nothing.
    "billing.backfill.list": () => b.backfill.list({}),
    "billing.backfill.get": async () => b.backfill.get({ runId: await matrixBackfillRun("completed") }),
    "billing.backfill.diffs": async () => b.backfill.diffs({ runId: await matrixBackfillRun("completed") }),
    "billing.backfill.overview": () => b.backfill.overview(),
    "billing.backfill.start": () => b.backfill.start({ mode: "dry_run", orgPrefix: `matrix-nothing-${uniqueSuffix()}` }),
    "billing.backfill.cancel": async () => b.backfill.cancel({ runId: await matrixBackfillRun("running") }),
    "billing.backfill.resume": async () => b.backfill.resume({ runId: await matrixBackfillRun("cancelled") }),
    "billing.events.endpoints": () => b.events.endpoints(),
    "billing.events.createEndpoint": () => b.events.createEndpoint(MATRIX_ENDPOINT),
    "billing.events.updateEndpoint": async () => b.events.updateEndpoint({ id: await matrixEndpoint(), enabled: false }),
    "billing.events.rotateSecret": async () => b.events.rotateSecret({ id: await matrixEndpoint() }),
    "billing.events.sendTest": async () => b.events.sendTest({ id: await matrixEndpoint(false) }),
    "billing.events.deliveries": () => b.events.deliveries({}),
    "billing.events.failingEndpoints": () => b.events.failingEndpoints(),
    "billing.events.delivery": async () => b.events.delivery({ id: await matrixDelivery() }),
    "billing.events.replay": async () => b.events.replay({ id: await matrixDelivery() }),
  };
  const call = calls[path];
  if (call) return { known: true, result: await call() };
  const procedure = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], api) as (
    input?: unknown,
  ) => Promise<unknown>;
  try {
    return { known: false, result: await procedure(undefined) };
  } catch (error) {
    if (error instanceof TRPCError && error.code !== "UNAUTHORIZED" && error.code !== "FORBIDDEN")
      return { known: false, result: error.code };
    throw error;
  }
}

describe("authorization matrix", () => {
  it("every procedure under billing.* declares a staff role, except the product app's API-key ones", () => {
    const undeclared = procedures.filter(({ path, meta }) => {
      if (meta?.auth === "staff" && STAFF_ROLES.includes(meta.minRole)) return false;
      const productApp = path.startsWith("billing.usage.") || path.startsWith("billing.entitlements.");
      return !(productApp && meta?.auth === "api_key");
    });
    expect(
      undeclared.map((p) => p.path),
      "procedures without a declared role (use staffProcedure(role))",
    ).toEqual([]);
    // billing.orgs.* is a staff area, no longer public.
    expect(Object.fromEntries(procedures.filter((p) => p.path.startsWith("billing.orgs.")).map((p) => [p.path, p.meta]))).toEqual({
      "billing.orgs.list": { auth: "staff", minRole: "viewer" },
      "billing.orgs.stats": { auth: "staff", minRole: "viewer" },
      "billing.orgs.get": { auth: "staff", minRole: "viewer" },
      "billing.orgs.denials": { auth: "staff", minRole: "viewer" },
      "billing.orgs.adjust": { auth: "staff", minRole: "admin" },
    });
    // Dodo: viewers read everything; replay and resync are admin writes.
    expect(Object.fromEntries(procedures.filter((p) => p.path.startsWith("billing.dodo.")).map((p) => [p.path, p.meta]))).toEqual({
      "billing.dodo.overview": { auth: "staff", minRole: "viewer" },
      "billing.dodo.webhooks.list": { auth: "staff", minRole: "viewer" },
      "billing.dodo.webhooks.get": { auth: "staff", minRole: "viewer" },
      "billing.dodo.webhooks.replay": { auth: "staff", minRole: "admin" },
      "billing.dodo.usageReporting.status": { auth: "staff", minRole: "viewer" },
      "billing.dodo.usageReporting.rows": { auth: "staff", minRole: "viewer" },
      "billing.dodo.subscription": { auth: "staff", minRole: "viewer" },
      "billing.dodo.resync": { auth: "staff", minRole: "admin" },
    });
    // Backfill: viewers read runs and reports; starting, cancelling and resuming are admin writes.
    expect(Object.fromEntries(procedures.filter((p) => p.path.startsWith("billing.backfill.")).map((p) => [p.path, p.meta]))).toEqual({
      "billing.backfill.list": { auth: "staff", minRole: "viewer" },
      "billing.backfill.get": { auth: "staff", minRole: "viewer" },
      "billing.backfill.diffs": { auth: "staff", minRole: "viewer" },
      "billing.backfill.overview": { auth: "staff", minRole: "viewer" },
      "billing.backfill.start": { auth: "staff", minRole: "admin" },
      "billing.backfill.cancel": { auth: "staff", minRole: "admin" },
      "billing.backfill.resume": { auth: "staff", minRole: "admin" },
    });
    // An org's own alert thresholds: viewers read them; adding and removing are admin writes.
    expect(
      Object.fromEntries(procedures.filter((p) => p.path.startsWith("billing.alertThresholds.")).map((p) => [p.path, p.meta])),
    ).toEqual({
      "billing.alertThresholds.list": { auth: "staff", minRole: "viewer" },
      "billing.alertThresholds.add": { auth: "staff", minRole: "admin" },
      "billing.alertThresholds.remove": { auth: "staff", minRole: "admin" },
    });
    // Outgoing events: viewers read endpoints and deliveries; every write is an admin's.
    expect(Object.fromEntries(procedures.filter((p) => p.path.startsWith("billing.events.")).map((p) => [p.path, p.meta]))).toEqual({
      "billing.events.endpoints": { auth: "staff", minRole: "viewer" },
      "billing.events.createEndpoint": { auth: "staff", minRole: "admin" },
      "billing.events.updateEndpoint": { auth: "staff", minRole: "admin" },
      "billing.events.rotateSecret": { auth: "staff", minRole: "admin" },
      "billing.events.sendTest": { auth: "staff", minRole: "admin" },
      "billing.events.deliveries": { auth: "staff", minRole: "viewer" },
      "billing.events.delivery": { auth: "staff", minRole: "viewer" },
      "billing.events.failingEndpoints": { auth: "staff", minRole: "viewer" },
      "billing.events.replay": { auth: "staff", minRole: "admin" },
    });
  });

  const staffProcedures = procedures.filter((p) => p.meta?.auth === "staff");
  it("covers (at least) the staff procedures of this issue", () => {
    expect(staffProcedures.map((p) => p.path)).toEqual(
      expect.arrayContaining([
        "billing.apiKeys.create",
        "billing.apiKeys.list",
        "billing.apiKeys.revoke",
        "billing.audit.list",
        "billing.orgs.adjust",
        "billing.orgs.denials",
        "billing.orgs.get",
        "billing.orgs.list",
        "billing.orgs.stats",
        "billing.overrides.list",
        "billing.overrides.revoke",
        "billing.overrides.set",
        "billing.staff.create",
        "billing.staff.list",
        "billing.staff.me",
        "billing.staff.setRole",
      ]),
    );
  });

  for (const { path, meta } of staffProcedures) {
    const minRole = (meta as { minRole: Role }).minRole;
    it(`${path} (${minRole}): anonymous → UNAUTHORIZED, roles below → FORBIDDEN, ${minRole}+ → allowed`, async () => {
      const org = await newOrg(prisma);
      const got: Record<string, string> = {};
      const expected: Record<string, string> = {};
      for (const who of ["anonymous", ...STAFF_ROLES] as Who[]) {
        got[who] = await codeOf(async () => callEach(path, await callerAs(who), org.id));
        expected[who] = who === "anonymous" ? "UNAUTHORIZED" : roleAtLeast(who, minRole) ? "OK" : "FORBIDDEN";
      }
      expect(got).toEqual(expected);
    });
  }

  it("a forged, signed-out or expired session is UNAUTHORIZED", async () => {
    const forged = createCaller(
      await createTRPCContext({ headers: new Headers({ cookie: "billing.session_token=abc.def" }), db: () => prisma }),
    );
    expect(await codeOf(() => forged.billing.staff.me())).toBe("UNAUTHORIZED");

    const { staff: member } = await staff.create(
      { email: `expiring-${uniqueSuffix()}@staff.test`, role: "admin", password: PASSWORD },
      "vitest",
    );
    const cookie = cookieHeader(await signIn(member.email));
    const api = createCaller(await createTRPCContext({ headers: new Headers({ cookie }), db: () => prisma }));
    expect(await api.billing.staff.me()).toMatchObject({ email: member.email, role: "admin" });

    await prisma.staffSession.updateMany({ where: { userId: member.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = createCaller(await createTRPCContext({ headers: new Headers({ cookie }), db: () => prisma }));
    expect(await codeOf(() => expired.billing.staff.me())).toBe("UNAUTHORIZED");

    const fresh = cookieHeader(await signIn(member.email));
    const signOut = await auth.api.signOut({ headers: new Headers({ cookie: fresh }), asResponse: true });
    expect(signOut.status).toBe(200);
    const after = createCaller(await createTRPCContext({ headers: new Headers({ cookie: fresh }), db: () => prisma }));
    expect(await codeOf(() => after.billing.staff.me())).toBe("UNAUTHORIZED");
  });

  it("a role change takes effect on the next request", async () => {
    const { staff: member } = await staff.create(
      { email: `promoted-${uniqueSuffix()}@staff.test`, role: "viewer", password: PASSWORD },
      "vitest",
    );
    const cookie = cookieHeader(await signIn(member.email));
    const as = async () => createCaller(await createTRPCContext({ headers: new Headers({ cookie }), db: () => prisma }));
    expect(await codeOf(async () => (await as()).billing.apiKeys.list())).toBe("FORBIDDEN");
    await (await callerAs("admin")).billing.staff.setRole({ id: member.id, role: "admin" });
    expect(await codeOf(async () => (await as()).billing.apiKeys.list())).toBe("OK");
    // …and an admin cannot demote themself.
    expect(await codeOf(async () => (await as()).billing.staff.setRole({ id: member.id, role: "viewer" }))).toBe("CONFLICT");
  });
});

// Sign-in itself (wrong password, CSRF, cookie flags, rate limit) is tested over HTTP in staff-sign-in.test.ts.

describe("audit log", () => {
  it("records every staff write with actor, before and after, in the write's transaction", async () => {
    const admin = await callerAs("admin");
    const actor = `staff:${users.admin.email}`;
    const org = await newOrg(prisma);

    const { key, secret } = await admin.billing.apiKeys.create({ name: "audited", scopes: ["usage:read", "usage:write"] });
    expect(secret).toMatch(/^bk_/);
    await admin.billing.apiKeys.revoke({ id: key.id });
    const override = await admin.billing.overrides.set({
      orgId: org.id,
      metric: "storage_bytes",
      kind: "hard",
      value: 5_000_000_000n,
      note: "big customer",
    });
    await admin.billing.overrides.revoke({ id: override.id });
    const created = await admin.billing.staff.create({ email: `audited-${uniqueSuffix()}@staff.test`, role: "viewer" });
    expect(created.password).toMatch(/^\S{16}$/);
    await admin.billing.staff.setRole({ id: created.staff.id, role: "finance" });

    const { items } = await admin.billing.audit.list({ actor, limit: 200 });
    const of = (action: string, id: string) => items.find((e) => e.action === action && e.targetId === id);
    expect(of("api_key.create", key.id)).toMatchObject({
      actor,
      targetType: "api_key",
      before: null,
      after: { name: "audited", revokedAt: null },
    });
    expect(JSON.stringify(of("api_key.create", key.id))).not.toContain(secret);
    expect(JSON.stringify(of("api_key.create", key.id))).not.toContain("secretHash");
    const revoked = of("api_key.revoke", key.id);
    expect(revoked).toMatchObject({ before: { revokedAt: null } });
    expect((revoked?.after as { revokedAt: string }).revokedAt).toEqual(expect.any(String));
    expect(of("limit_override.set", override.id)).toMatchObject({ after: { value: "5000000000", kind: "hard", createdBy: actor } });
    expect(of("limit_override.revoke", override.id)).toMatchObject({ before: { revokedAt: null } });
    expect(of("staff_user.create", created.staff.id)).toMatchObject({ after: { role: "viewer" } });
    expect(of("staff_user.set_role", created.staff.id)).toMatchObject({ before: { role: "viewer" }, after: { role: "finance" } });
  });

  it("a failed write leaves no audit row", async () => {
    // An admin of its own, so every audit row under its name is this test's (other files and
    // tests write audit rows at the same time).
    const { staff: member } = await staff.create(
      { email: `failing-${uniqueSuffix()}@staff.test`, role: "admin", password: PASSWORD },
      "vitest",
    );
    const admin = createCaller(
      await createTRPCContext({ headers: new Headers({ cookie: cookieHeader(await signIn(member.email)) }), db: () => prisma }),
    );
    const rowsOfThisAdmin = () => prisma.auditLog.findMany({ where: { actor: `staff:${member.email}` }, select: { action: true } });

    expect(
      await codeOf(() =>
        admin.billing.overrides.set({
          orgId: "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a",
          metric: "members",
          kind: "hard",
          value: 1n,
          note: "no such org",
        }),
      ),
    ).toBe("NOT_FOUND");
    expect(await codeOf(() => admin.billing.staff.create({ email: users.viewer.email, role: "viewer" }))).toBe("CONFLICT");
    expect(await rowsOfThisAdmin()).toEqual([]);
    // …while a write that succeeds is found by the same query.
    await admin.billing.apiKeys.create({ name: "audited by the failing admin", scopes: ["usage:read"] });
    expect(await rowsOfThisAdmin()).toEqual([{ action: "api_key.create" }]);
  }, 60_000); // a staff user created and signed in: two password hashes, slow under load

  it("pages newest first with a keyset cursor", async () => {
    const actor = `staff:pager-${uniqueSuffix()}`;
    await prisma.$transaction(async (tx) => {
      const { recordAudit } = await import("@/server/billing/audit-log");
      for (let i = 0; i < 5; i++)
        await recordAudit(tx, { actor, action: "test.write", target: { type: "test", id: String(i) }, after: { i } });
    });
    const first = await listAudit(prisma, { actor, limit: 2 });
    const second = await listAudit(prisma, { actor, limit: 2, cursor: first.nextCursor ?? undefined });
    const third = await listAudit(prisma, { actor, limit: 2, cursor: second.nextCursor ?? undefined });
    const ids = [...first.items, ...second.items, ...third.items].map((e) => e.id);
    expect(new Set(ids).size).toBe(5);
    expect(third.nextCursor).toBeNull();
    await expect(listAudit(prisma, { cursor: { createdAt: new Date("garbage"), id: "garbage" } })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      reason: "invalid_input",
    });
  });
});
