import { randomUUID } from "node:crypto";

import { TRPCError } from "@trpc/server";
import { afterAll, describe, expect, it } from "vitest";

import type { StaffRole } from "@/server/auth";
import type { UsageService } from "@/server/billing/usage-service";

import { fakeId, startFakeDodo, subscriptionPayload, webhookPayload, type FakeDodo } from "../../tools";

// The resync procedure builds its Dodo client from the environment (env() is read once, on
// first use): point it at a fake Dodo served from this process before anything reads it.
const fake: FakeDodo = await startFakeDodo({ apiKey: "dashboard_test_key" });
process.env.DODO_PAYMENTS_API_KEY = fake.apiKey;
process.env.DODO_PAYMENTS_BASE_URL = fake.url;

const { createCaller } = await import("@/server/api/root");
const { createTRPCContext } = await import("@/server/api/trpc");
const { createBillingServices } = await import("@/server/billing");
const { DodoBilling } = await import("@/server/billing/dodo/dodo-billing");
const { listWebhookEvents, countWebhookEvents } = await import("@/server/billing/dodo/webhook-events");
const { outboxStatus, listUnsentOutboxRows } = await import("@/server/billing/dodo/outbox-status");
const { resyncOrganization } = await import("@/server/billing/dodo/staff-resync");
const { getDodoOverview } = await import("@/server/billing/overview");
const { newOrg, testDatabase, uniqueSuffix } = await import("../helpers/db");

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);

afterAll(async () => {
  await fake.close();
});

/** A caller signed in as `role` (the session is injected, as the RSC caller does; cookies are staff-auth.test's job). */
async function callerAs(role: StaffRole) {
  const email = `${role}-${uniqueSuffix()}@dashboard.test`;
  const staff = async () => ({ user: { id: `staff-${role}`, email, name: role, role } });
  return { api: createCaller(await createTRPCContext({ headers: new Headers(), db: () => prisma, staff })), actor: `staff:${email}` };
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

const MINUTE = 60_000;

/** Inserts events of one unique type at chosen times (ties on purpose), returned newest first. */
async function seedEvents(type: string, specs: { minutesAgo: number; status: string; orgId?: string }[], base = Date.now()) {
  const rows = specs.map((s, i) => ({
    id: `msg_${type}_${String(i).padStart(2, "0")}`,
    type,
    payload: { type, n: i },
    status: s.status,
    attempts: s.status === "received" ? 0 : 1,
    error: s.status === "failed" ? "database error 40P01: deadlock detected" : null,
    orgId: s.orgId ?? null,
    receivedAt: new Date(base - s.minutesAgo * MINUTE),
  }));
  await prisma.webhookEvent.createMany({ data: rows });
  return [...rows].sort((a, b) => b.receivedAt.getTime() - a.receivedAt.getTime() || (a.id < b.id ? 1 : -1));
}

describe("webhook events: filters and keyset pages", () => {
  it("pages newest first by (received_at, id), ties included, each event exactly once", async () => {
    const type = `test.pages.${uniqueSuffix()}`;
    // Three events share one received_at: the id orders them.
    const expected = await seedEvents(type, [
      { minutesAgo: 5, status: "processed" },
      { minutesAgo: 3, status: "processed" },
      { minutesAgo: 3, status: "failed" },
      { minutesAgo: 3, status: "ignored" },
      { minutesAgo: 1, status: "needs_attention" },
      { minutesAgo: 9, status: "received" },
      { minutesAgo: 7, status: "processed" },
    ]);
    const seen: string[] = [];
    let cursor: Parameters<typeof listWebhookEvents>[2]["cursor"];
    let pages = 0;
    do {
      const page = await listWebhookEvents(prisma, { type }, { cursor, limit: 2 });
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen).toEqual(expected.map((e) => e.id));
    expect(pages).toBe(4);
  });

  it("filters by status (several), organization and received range; counts per status under the filter", async () => {
    const type = `test.filters.${uniqueSuffix()}`;
    const org = await newOrg(prisma);
    const base = Date.UTC(2031, 0, 15, 12, 0, 0);
    await seedEvents(
      type,
      [
        { minutesAgo: 0, status: "failed", orgId: org.id },
        { minutesAgo: 60, status: "needs_attention" },
        { minutesAgo: 120, status: "processed", orgId: org.id },
        { minutesAgo: 24 * 60, status: "failed" },
        { minutesAgo: 48 * 60, status: "ignored" },
      ],
      base,
    );
    const ids = async (filter: Parameters<typeof listWebhookEvents>[1]) =>
      (await listWebhookEvents(prisma, { type, ...filter }, { limit: 50 })).items.map((e) => e.id.slice(-2));

    expect(await ids({})).toEqual(["00", "01", "02", "03", "04"]);
    expect(await ids({ statuses: ["failed", "needs_attention"] })).toEqual(["00", "01", "03"]);
    expect(await ids({ statuses: ["ignored"] })).toEqual(["04"]);
    expect(await ids({ orgId: org.id })).toEqual(["00", "02"]);
    // from inclusive, to exclusive: the day of 2031-01-15 (UTC).
    expect(await ids({ from: new Date(Date.UTC(2031, 0, 15)), to: new Date(Date.UTC(2031, 0, 16)) })).toEqual(["00", "01", "02"]);
    expect(await ids({ from: new Date(base), to: new Date(base + 1) })).toEqual(["00"]);
    expect(await ids({ type: `${type}.nope` })).toEqual([]);

    const page = await listWebhookEvents(prisma, { type, orgId: org.id }, { limit: 50 });
    expect(page.items[0]).toMatchObject({
      orgId: org.id,
      orgName: org.name,
      status: "failed",
      attempts: 1,
      error: expect.stringContaining("deadlock"),
    });

    expect(await countWebhookEvents(prisma, { type })).toEqual({ received: 0, processed: 1, ignored: 1, failed: 2, needs_attention: 1 });
    expect(await countWebhookEvents(prisma, { type, statuses: ["failed", "needs_attention"] })).toEqual({
      received: 0,
      processed: 0,
      ignored: 0,
      failed: 2,
      needs_attention: 1,
    });
  });

  it("the list procedure validates its input and adds counts; get answers the payload or NOT_FOUND", async () => {
    const { api } = await callerAs("viewer");
    const type = `test.proc.${uniqueSuffix()}`;
    const [newest] = await seedEvents(type, [
      { minutesAgo: 2, status: "processed" },
      { minutesAgo: 1, status: "failed" },
    ]);
    const listed = await api.billing.dodo.webhooks.list({ filter: { type, statuses: ["failed"] } });
    expect(listed.items.map((e) => e.id)).toEqual([newest?.id]);
    // Counts ignore the status filter: they are the page's status tabs.
    expect(listed.counts).toMatchObject({ failed: 1, processed: 1 });
    expect(await api.billing.dodo.webhooks.get({ id: newest?.id ?? "" })).toMatchObject({
      type,
      status: "failed",
      payload: { type, n: 1 },
    });

    expect(await codeOf(() => api.billing.dodo.webhooks.get({ id: "msg_does_not_exist" }))).toBe("NOT_FOUND");
    expect(await codeOf(() => api.billing.dodo.webhooks.list({ filter: { from: new Date(2), to: new Date(1) } }))).toBe("BAD_REQUEST");
    expect(await codeOf(() => api.billing.dodo.webhooks.list({ filter: { statuses: ["exploded" as never] } }))).toBe("BAD_REQUEST");
    expect(await codeOf(() => api.billing.dodo.webhooks.list({ limit: 1000 }))).toBe("BAD_REQUEST");
    expect(await codeOf(() => api.billing.dodo.webhooks.get({ id: "" }))).toBe("BAD_REQUEST");
  });
});

describe("replay from the dashboard", () => {
  /** A usage service whose first period reset fails: the real handler stores a real processing failure. */
  function failingOnce() {
    let calls = 0;
    const usage = {
      resetPeriod: async (...args: Parameters<UsageService["resetPeriod"]>) => {
        calls += 1;
        if (calls === 1) throw new Error("simulated outage");
        return billing.usage.resetPeriod(...args);
      },
    } as unknown as UsageService;
    return new DodoBilling(prisma, usage);
  }

  async function failedDelivery() {
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_business" });
    const webhookId = fakeId("msg");
    const result = await failingOnce().handleWebhook({ webhookId, rawBody: JSON.stringify(webhookPayload("subscription.active", sub)) });
    expect(result).toMatchObject({ status: "failed", attempts: 1, error: "simulated outage" });
    return { org, sub, webhookId };
  }

  it("an admin's replay processes a failed event once, and audit-logs it", async () => {
    const { org, sub, webhookId } = await failedDelivery();
    expect(await prisma.subscription.count({ where: { id: sub.subscription_id } })).toBe(0);
    const { api, actor } = await callerAs("admin");

    const replayed = await api.billing.dodo.webhooks.replay({ id: webhookId });
    expect(replayed.result).toMatchObject({ webhookId, duplicate: false, status: "processed", attempts: 2 });
    expect(replayed.event).toMatchObject({
      id: webhookId,
      status: "processed",
      attempts: 2,
      error: null,
      orgId: org.id,
      subscriptionId: sub.subscription_id,
    });
    expect(replayed.event.processedAt).toBeInstanceOf(Date);
    expect(await prisma.subscription.findUnique({ where: { id: sub.subscription_id } })).toMatchObject({
      orgId: org.id,
      status: "active",
      lastEventId: webhookId,
    });
    expect(await billing.entitlements.check(org.id, "feature.sso")).toMatchObject({ allowed: true, plan: "business" });

    // Once: a second replay does nothing and writes no audit row.
    const again = await api.billing.dodo.webhooks.replay({ id: webhookId });
    expect(again.result).toMatchObject({ duplicate: true, status: "processed" });
    expect(await prisma.webhookEvent.findUnique({ where: { id: webhookId } })).toMatchObject({ attempts: 2 });

    const audit = await prisma.auditLog.findMany({ where: { targetType: "webhook_event", targetId: webhookId } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor,
      action: "webhook_event.replay",
      before: { status: "failed", attempts: 1, error: "simulated outage" },
      after: { status: "processed", attempts: 2, error: null, orgId: org.id },
    });
  });

  it("parallel replays of one failed event process it exactly once", async () => {
    const { webhookId } = await failedDelivery();
    const { api } = await callerAs("admin");
    const results = await Promise.all(Array.from({ length: 5 }, () => api.billing.dodo.webhooks.replay({ id: webhookId })));
    expect(results.filter((r) => !r.result.duplicate)).toHaveLength(1);
    expect(await prisma.webhookEvent.findUnique({ where: { id: webhookId } })).toMatchObject({ status: "processed", attempts: 2 });
    expect(await prisma.auditLog.count({ where: { targetType: "webhook_event", targetId: webhookId } })).toBe(1);
  });

  it("viewer and finance are refused (FORBIDDEN) and change nothing; an unknown id is NOT_FOUND", async () => {
    const { webhookId } = await failedDelivery();
    for (const role of ["viewer", "finance"] as const) {
      const { api } = await callerAs(role);
      expect(await codeOf(() => api.billing.dodo.webhooks.replay({ id: webhookId }))).toBe("FORBIDDEN");
      // …but they read it.
      expect(await api.billing.dodo.webhooks.get({ id: webhookId })).toMatchObject({ status: "failed", attempts: 1 });
    }
    expect(await prisma.webhookEvent.findUnique({ where: { id: webhookId } })).toMatchObject({ status: "failed", attempts: 1 });
    expect(await prisma.auditLog.count({ where: { targetId: webhookId } })).toBe(0);
    const { api } = await callerAs("admin");
    expect(await codeOf(() => api.billing.dodo.webhooks.replay({ id: `msg_missing_${uniqueSuffix()}` }))).toBe("NOT_FOUND");
  });
});

describe("usage-reporting status", () => {
  async function outboxRows(orgId: string, rows: { status: string; minutesAgo: number; error?: string }[], now: number) {
    const data = rows.map((r) => ({
      orgId,
      ledgerId: randomUUID(),
      metric: "api_calls",
      eventName: "api_calls",
      customerId: "cus_dashboard",
      subscriptionId: "sub_dashboard",
      quantity: 3n,
      eventTimestamp: new Date(now - r.minutesAgo * MINUTE),
      status: r.status,
      attempts: r.status === "pending" ? 0 : 1,
      lastError: r.error ?? null,
    }));
    await prisma.usageReportOutbox.createMany({ data });
    return data;
  }

  it("counts rows per status and the oldest pending age, per org and overall", async () => {
    const org = await newOrg(prisma);
    const now = Date.now();
    await outboxRows(
      org.id,
      [
        { status: "pending", minutesAgo: 2 },
        { status: "pending", minutesAgo: 7 },
        { status: "pending", minutesAgo: 4 },
        { status: "sent", minutesAgo: 30 },
        { status: "sent", minutesAgo: 31 },
        { status: "failed", minutesAgo: 40, error: "422 INVALID_REQUEST_BODY" },
        { status: "expired", minutesAgo: 90, error: "older than Dodo's 1-hour window" },
      ],
      now,
    );
    const status = await outboxStatus(prisma, { orgId: org.id, now: new Date(now) });
    expect(status.counts).toEqual({ pending: 3n, sent: 2n, failed: 1n, expired: 1n });
    expect(status.oldestPendingAt?.getTime()).toBe(now - 7 * MINUTE);
    expect(status.oldestPendingAgeSeconds).toBe(7 * 60);

    const empty = await outboxStatus(prisma, { orgId: (await newOrg(prisma)).id });
    expect(empty).toMatchObject({
      counts: { pending: 0n, sent: 0n, failed: 0n, expired: 0n },
      oldestPendingAt: null,
      oldestPendingAgeSeconds: null,
    });

    // Overall includes this org's rows (other test files may add their own meanwhile).
    const overall = await outboxStatus(prisma);
    for (const s of ["pending", "sent", "failed", "expired"] as const) expect(overall.counts[s]).toBeGreaterThanOrEqual(status.counts[s]);
    const overview = await getDodoOverview(prisma);
    expect(overview.outbox.expired).toBeGreaterThanOrEqual(1n);
    expect(overview.outbox.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(7 * 60);
  });

  it("lists expired and failed rows newest first in keyset pages, with the last error", async () => {
    const org = await newOrg(prisma);
    const now = Date.now();
    const rows = await outboxRows(
      org.id,
      [
        { status: "expired", minutesAgo: 70, error: "expired: older than 1 hour" },
        { status: "failed", minutesAgo: 20, error: "422 DUPLICATE_EVENT_ID" },
        { status: "expired", minutesAgo: 65, error: "expired: older than 1 hour" },
        { status: "sent", minutesAgo: 10 },
        { status: "pending", minutesAgo: 1 },
        { status: "expired", minutesAgo: 61, error: "expired: older than 1 hour" },
      ],
      now,
    );
    const unsent = rows
      .filter((r) => r.status === "expired" || r.status === "failed")
      .sort((a, b) => b.eventTimestamp.getTime() - a.eventTimestamp.getTime());

    const { api } = await callerAs("viewer");
    const first = await api.billing.dodo.usageReporting.rows({ filter: { orgId: org.id }, limit: 3 });
    const second = await api.billing.dodo.usageReporting.rows({
      filter: { orgId: org.id },
      limit: 3,
      cursor: first.nextCursor ?? undefined,
    });
    expect([...first.items, ...second.items].map((r) => r.ledgerId)).toEqual(unsent.map((r) => r.ledgerId));
    expect(second.nextCursor).toBeNull();
    expect(first.items[0]).toMatchObject({
      orgId: org.id,
      orgName: org.name,
      status: "failed",
      quantity: 3n,
      metric: "api_calls",
      lastError: "422 DUPLICATE_EVENT_ID",
    });

    const expired = await listUnsentOutboxRows(prisma, { orgId: org.id, statuses: ["expired"] }, { limit: 50 });
    expect(expired.items.map((r) => r.status)).toEqual(["expired", "expired", "expired"]);

    expect(await api.billing.dodo.usageReporting.status({ orgId: org.id })).toMatchObject({
      counts: { expired: 3n, failed: 1n, sent: 1n, pending: 1n },
    });
    expect(await codeOf(() => api.billing.dodo.usageReporting.rows({ filter: { statuses: ["sent" as never] } }))).toBe("BAD_REQUEST");
  });
});

describe("subscription panel and resync", () => {
  it("an org without a subscription is on the free plan", async () => {
    const org = await newOrg(prisma);
    const { api } = await callerAs("viewer");
    expect(await api.billing.dodo.subscription({ orgId: org.id })).toEqual({
      orgId: org.id,
      effective: { planId: "free", planName: "Free", subscriptionStatus: "none", standing: "good", graceEndsAt: null },
      subscription: null,
      otherSubscriptions: 0,
    });
    expect(await codeOf(() => api.billing.dodo.subscription({ orgId: randomUUID() }))).toBe("NOT_FOUND");
  });

  it("shows the synced state; a resync from Dodo repairs a lost webhook and is audit-logged", async () => {
    const org = await newOrg(prisma);
    const periodStart = new Date(Date.UTC(2026, 2, 1));
    const sub = subscriptionPayload({
      orgId: org.id,
      product_id: "pdt_billing_business",
      periodStart,
      periodEnd: new Date(Date.UTC(2026, 3, 1)),
    });
    const delivery = await billing.dodo.handleWebhook({
      webhookId: fakeId("msg"),
      rawBody: JSON.stringify(webhookPayload("subscription.active", sub, new Date(Date.now() - 3_600_000))),
    });
    expect(delivery.status).toBe("processed");

    const { api: viewer } = await callerAs("viewer");
    const before = await viewer.billing.dodo.subscription({ orgId: org.id });
    expect(before.effective).toMatchObject({ planId: "business", standing: "good" });
    expect(before.subscription).toMatchObject({
      id: sub.subscription_id,
      productId: "pdt_billing_business",
      plan: { id: "business", name: "Business" },
      status: "active",
      currentPeriodStart: periodStart,
      cancelAtPeriodEnd: false,
      cancelledAt: null,
      customerId: sub.customer.customer_id,
      lastEventId: delivery.webhookId,
      lastEventIsWebhook: true,
    });

    // The cancellation webhook was lost; Dodo has the subscription expired.
    const expiresAt = new Date(Date.now() - 60_000);
    fake.putSubscription({
      ...sub,
      status: "expired",
      cancelled_at: new Date(Date.now() - 120_000).toISOString(),
      expires_at: expiresAt.toISOString(),
    });
    expect(await codeOf(() => viewer.billing.dodo.resync({ orgId: org.id }))).toBe("FORBIDDEN");
    const { api: admin, actor } = await callerAs("admin");
    expect(await admin.billing.dodo.resync({ orgId: org.id })).toEqual({ checked: 1, synced: 1, stale: 0, problems: [] });

    const after = await viewer.billing.dodo.subscription({ orgId: org.id });
    expect(after.subscription).toMatchObject({ status: "expired", expiresAt, plan: { id: "business" }, lastEventIsWebhook: false });
    expect(after.subscription?.lastEventId).toMatch(new RegExp(`^reconcile:${sub.subscription_id}:`));
    // The panel shows the product's plan; the policy applies the free plan.
    expect(after.effective).toMatchObject({ planId: "free", subscriptionStatus: "expired" });

    const [audit] = await prisma.auditLog.findMany({ where: { action: "subscription.resync", targetId: org.id } });
    expect(audit).toMatchObject({
      actor,
      targetType: "organization",
      before: { subscriptions: [{ id: sub.subscription_id, status: "active" }] },
      after: { report: { checked: 1, synced: 1, stale: 0, problems: [] }, subscriptions: [{ id: sub.subscription_id, status: "expired" }] },
    });
  });

  it("a subscription Dodo does not know is a reported problem, not an error; an unknown org is NOT_FOUND", async () => {
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ orgId: org.id });
    await billing.dodo.syncSubscription({
      id: fakeId("msg"),
      type: "subscription.active",
      timestamp: new Date(Date.now() - 60_000),
      data: sub,
    });
    const { api } = await callerAs("admin");
    const report = await api.billing.dodo.resync({ orgId: org.id });
    expect(report).toMatchObject({ checked: 1, synced: 0, stale: 0 });
    expect(report.problems).toEqual([{ subscriptionId: sub.subscription_id, error: expect.stringMatching(/404|not found/i) }]);
    expect(await prisma.subscription.findUnique({ where: { id: sub.subscription_id } })).toMatchObject({ status: "active" });
    expect(await codeOf(() => api.billing.dodo.resync({ orgId: randomUUID() }))).toBe("NOT_FOUND");
  });

  it("without an org, every known subscription is reconciled (what npm run reconcile does), audit-logged with the report", async () => {
    const org = await newOrg(prisma);
    const sub = subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_business" });
    await billing.dodo.syncSubscription({
      id: fakeId("msg"),
      type: "subscription.active",
      timestamp: new Date(Date.now() - 3_600_000),
      data: sub,
    });
    fake.putSubscription({ ...sub, status: "expired", expires_at: new Date(Date.now() - 60_000).toISOString() });
    const { api: viewer } = await callerAs("viewer");
    expect(await codeOf(() => viewer.billing.dodo.resync({}))).toBe("FORBIDDEN");

    const { api: admin, actor } = await callerAs("admin");
    const report = await admin.billing.dodo.resync({});
    // Other files' subscriptions live in their own fake Dodo: here they are reported problems (404), never errors.
    const known = await prisma.subscription.count();
    expect(report.checked).toBeGreaterThanOrEqual(known > 0 ? 1 : 0);
    expect(report.synced).toBeGreaterThanOrEqual(1);
    expect(report.problems.some((p) => p.subscriptionId === sub.subscription_id)).toBe(false);
    expect(await prisma.subscription.findUnique({ where: { id: sub.subscription_id } })).toMatchObject({ status: "expired" });
    const audits = await prisma.auditLog.findMany({ where: { action: "subscription.reconcile_all", actor } });
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      targetType: "subscriptions",
      targetId: "all",
      before: null,
      after: { report: { checked: report.checked, synced: report.synced } },
    });
  });

  it("without an API key the resync is PRECONDITION_FAILED and writes nothing", async () => {
    const org = await newOrg(prisma);
    await expect(resyncOrganization(prisma, billing.dodo, null, org.id, "staff:test")).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      reason: "dodo_api_key_missing",
      message: "DODO_PAYMENTS_API_KEY is not set",
    });
    expect(await prisma.auditLog.count({ where: { targetId: org.id } })).toBe(0);
  });
});

describe("overview", () => {
  it("counts failed and needs-attention deliveries (the exact counting is the filters test's)", async () => {
    await seedEvents(`test.overview.${uniqueSuffix()}`, [
      { minutesAgo: 1, status: "failed" },
      { minutesAgo: 2, status: "needs_attention" },
      { minutesAgo: 3, status: "processed" },
    ]);
    // Global numbers: other files add and replay their own events meanwhile, never these.
    const { webhooks } = await getDodoOverview(prisma);
    expect(webhooks.failed).toBeGreaterThanOrEqual(1);
    expect(webhooks.needsAttention).toBeGreaterThanOrEqual(1);
    expect(webhooks.problems).toBe(webhooks.failed + webhooks.needsAttention);
  });
});
