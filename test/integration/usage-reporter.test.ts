import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { createBillingServices } from "@/server/billing";
import { createDodoClient } from "@/server/billing/dodo";
import { startUsageReporting } from "@/server/billing/usage-reporting";
import { fakeId, subscriptionPayload } from "../../scripts/fake-dodo/payloads";
import { type FakeDodo, startFakeDodo } from "../../scripts/fake-dodo/server";
import { newOrg, testDatabase } from "../helpers/db";

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);
const API_KEY = "reporter_test_key";

async function paidOrgWithCalls(calls: number) {
  const org = await newOrg(prisma);
  const sub = subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_pro" });
  await billing.dodo.syncSubscription({ id: fakeId("msg"), type: "subscription.active", timestamp: new Date(Date.now() - 60_000), data: sub });
  for (let done = 0; done < calls; done += 1000) {
    const events = Array.from({ length: Math.min(1000, calls - done) }, () => ({ orgId: org.id, metric: "api_calls", amount: 1n, reason: "api_call" }));
    const results = await billing.usage.incrementMany(events);
    expect(results.every((r) => r.status === "applied")).toBe(true);
  }
  const ledgerIds = (await prisma.usageLedger.findMany({ where: { orgId: org.id, metric: "api_calls" }, select: { id: true } })).map((r) => r.id);
  return { org, sub, ledgerIds };
}

const statuses = async (orgId: string) =>
  Object.fromEntries(
    (await prisma.usageReportOutbox.groupBy({ by: ["status"], where: { orgId }, _count: true })).map((g) => [g.status, g._count]),
  );

/** What the fake Dodo holds for one org (other test files report other orgs to their own fakes). */
const ingestedFor = (fake: FakeDodo, orgId: string) => [...fake.ingested.values()].filter((e) => e.metadata?.org_id === orgId);

function reporterProcess(fake: FakeDodo, orgId: string): { child: ChildProcess; exited: Promise<{ code: number | null; out: string; err: string }> } {
  // `node --import tsx`, not the tsx binary: that one runs the script in a child process,
  // and SIGKILL must hit the process that holds the claimed rows.
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/report-usage.ts", "--org", orgId, "--max-wait", "60"], {
    env: { ...process.env, DATABASE_URL: inject("databaseUrl"), DODO_PAYMENTS_API_KEY: API_KEY, DODO_PAYMENTS_BASE_URL: fake.url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk) => (out += chunk));
  child.stderr?.on("data", (chunk) => (err += chunk));
  const exited = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on("exit", (code) => resolve({ code, out, err })));
  return { child, exited };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("usage reporting to Dodo", () => {
  let fake: FakeDodo;
  const api = () => {
    const client = createDodoClient({ apiKey: API_KEY, baseURL: fake.url, maxRetries: 0, timeout: 10_000 });
    if (!client) throw new Error("no client");
    return client;
  };
  beforeAll(async () => {
    fake = await startFakeDodo({ apiKey: API_KEY });
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    await fake?.close();
  });

  it("a reporter killed mid-batch and restarted delivers every ledger row exactly once by event_id", async () => {
    const { org, sub, ledgerIds } = await paidOrgWithCalls(2500);
    // Dodo stores the first batch, then never answers: the reporter dies not knowing.
    fake.fail({ route: "ingest", afterIngest: true, delayMs: 120_000 });
    const first = reporterProcess(fake, org.id);
    await until(() => ingestedFor(fake, org.id).length >= 1000, 60_000, "the first batch to reach the fake");
    first.child.kill("SIGKILL");
    await first.exited;
    // Its transaction dies with its connection (once PostgreSQL notices): nothing was marked sent.
    await until(
      async () => (await prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'report-usage'`)[0]?.n === 0n,
      30_000,
      "the killed reporter's session to end",
    );
    expect((await statuses(org.id)).sent).toBeUndefined();

    const second = reporterProcess(fake, org.id);
    const done = await second.exited;
    expect(done.err).toBe("");
    expect(done.code).toBe(0);
    expect(done.out).toContain("2500 sent");

    expect(await statuses(org.id)).toEqual({ sent: 2500 });
    const ingested = ingestedFor(fake, org.id);
    expect(ingested).toHaveLength(2500);
    expect(new Set(ingested.map((e) => e.event_id))).toEqual(new Set(ledgerIds));
    // The first batch really went twice; Dodo kept each event_id once.
    const resent = ledgerIds.filter((id) => fake.deliveries.get(id) === 2);
    expect(resent).toHaveLength(1000);
    expect(ledgerIds.every((id) => (fake.deliveries.get(id) ?? 0) >= 1)).toBe(true);
    expect(ingested.every((e) => e.customer_id === sub.customer.customer_id && e.event_name === "api_calls" && e.metadata?.quantity === 1)).toBe(true);
  }, 180_000);

  it("retries 429 after its retry-after and 500 with backoff, sending nothing meanwhile, then sends everything", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(1200);
    fake.fail({ route: "ingest", status: 429, retryAfter: 2 });
    fake.fail({ route: "ingest", status: 500 });
    const started = Date.now();
    const batches: string[] = [];
    const result = await billing.dodo.reportUsage(api(), {
      orgId: org.id,
      waitForRetries: true,
      maxWaitMs: 30_000,
      onBatch: (b) => batches.push(`${b.claimed}:${b.sent ? "sent" : `deferred ${b.error?.slice(0, 3)}`}`),
    });
    // 2 s for the 429's retry-after, then 2 s of backoff after the 500 (the rows' second attempt).
    expect(Date.now() - started).toBeGreaterThanOrEqual(4000);
    expect(batches).toEqual(["1000:deferred 429", "1000:deferred 500", "1000:sent", "200:sent"]);
    expect(fake.requests.filter((r) => r.path === "/events/ingest").map((r) => r.status)).toEqual([429, 500, 200, 200]);
    expect(result).toMatchObject({ sent: 1200, expired: 0, failed: 0, deferred: 0 });
    expect(await statuses(org.id)).toEqual({ sent: 1200 });
    expect(new Set(ingestedFor(fake, org.id).map((e) => e.event_id))).toEqual(new Set(ledgerIds));
    const rows = await prisma.usageReportOutbox.findMany({ where: { orgId: org.id }, select: { attempts: true, lastError: true, sentAt: true } });
    expect(rows.every((r) => r.attempts >= 2 && r.lastError === null && r.sentAt !== null)).toBe(true);
  }, 60_000);

  it("after a 429 sends nothing more in that run, not even other rows", async () => {
    const { org } = await paidOrgWithCalls(10);
    fake.fail({ route: "ingest", status: 429, retryAfter: 30 });
    const result = await billing.dodo.reportUsage(api(), { orgId: org.id, batchSize: 5 });
    expect(result).toMatchObject({ batches: 1, sent: 0, deferred: 5 });
    const rows = await prisma.usageReportOutbox.findMany({ where: { orgId: org.id } });
    expect(rows.filter((r) => r.attempts === 1 && r.lastError?.startsWith("429"))).toHaveLength(5);
    expect(rows.filter((r) => r.attempts === 0 && r.lastError === null)).toHaveLength(5);
    expect(fake.requests.filter((r) => r.path === "/events/ingest")).toHaveLength(1);
  });

  it("one event Dodo refuses fails alone: the batch is split until it stands alone, the rest is sent", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(9);
    const bad = ledgerIds[4] as string;
    // An event the fake refuses (422 for the whole request), as Dodo does with one bad event.
    await prisma.usageReportOutbox.updateMany({ where: { ledgerId: bad }, data: { customerId: "" } });
    const result = await billing.dodo.reportUsage(api(), { orgId: org.id });
    expect(result).toMatchObject({ batches: 1, sent: 8, failed: 1, expired: 0, deferred: 0 });
    const rows = await prisma.usageReportOutbox.findMany({ where: { orgId: org.id } });
    expect(rows.filter((r) => r.status === "failed").map((r) => r.ledgerId)).toEqual([bad]);
    expect(rows.find((r) => r.ledgerId === bad)?.lastError).toMatch(/^422/);
    expect(ingestedFor(fake, org.id).map((e) => e.event_id).sort()).toEqual(ledgerIds.filter((id) => id !== bad).sort());
    expect(ledgerIds.filter((id) => id !== bad).every((id) => fake.deliveries.get(id) === 1)).toBe(true);
  });

  it("puts off an event Dodo says is ahead of its clock and sends the rest", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(3);
    const ahead = ledgerIds[0] as string;
    await prisma.usageReportOutbox.updateMany({ where: { ledgerId: ahead }, data: { eventTimestamp: new Date(Date.now() + 10 * 60_000) } });
    const result = await billing.dodo.reportUsage(api(), { orgId: org.id });
    expect(result).toMatchObject({ sent: 2, expired: 0, failed: 0, deferred: 1 });
    expect(await prisma.usageReportOutbox.findUnique({ where: { ledgerId: ahead } })).toMatchObject({ status: "pending", attempts: 1 });
  });

  it("leaves rows pending with the error when Dodo stays down, for the next run", async () => {
    const { org } = await paidOrgWithCalls(3);
    fake.fail({ route: "ingest", status: 503, retryAfter: 600, times: 5 });
    const result = await billing.dodo.reportUsage(api(), { orgId: org.id });
    expect(result).toMatchObject({ sent: 0, deferred: 3, batches: 1 });
    const rows = await prisma.usageReportOutbox.findMany({ where: { orgId: org.id } });
    expect(rows.every((r) => r.status === "pending" && r.attempts === 1 && r.lastError?.startsWith("503"))).toBe(true);
    expect(rows.every((r) => r.nextAttemptAt.getTime() > Date.now() + 590_000)).toBe(true);
  });

  it("expires rows older than Dodo's 1-hour window instead of sending or dropping them", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(5);
    const stale = ledgerIds.slice(0, 3);
    await prisma.usageReportOutbox.updateMany({ where: { ledgerId: { in: stale } }, data: { eventTimestamp: new Date(Date.now() - 2 * 3_600_000) } });
    const result = await billing.dodo.reportUsage(api(), { orgId: org.id });
    expect(result).toMatchObject({ sent: 2, expired: 3 });
    const rows = await prisma.usageReportOutbox.findMany({ where: { orgId: org.id } });
    expect(rows.filter((r) => r.status === "expired").map((r) => r.ledgerId).sort()).toEqual([...stale].sort());
    expect(rows.find((r) => r.status === "expired")?.lastError).toMatch(/1-hour ingest window/);
    expect(ingestedFor(fake, org.id).map((e) => e.event_id).sort()).toEqual(ledgerIds.slice(3).sort());
  });

  it("expires the events Dodo itself refuses as too old and sends the rest of the batch", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(4);
    const lagging = () => new Date(Date.now() - 10 * 60_000); // this reporter's clock is 10 minutes slow
    const tooOld = ledgerIds.slice(0, 1);
    await prisma.usageReportOutbox.updateMany({ where: { orgId: org.id }, data: { nextAttemptAt: new Date(Date.now() - 20 * 60_000) } });
    await prisma.usageReportOutbox.updateMany({ where: { ledgerId: { in: tooOld } }, data: { eventTimestamp: new Date(Date.now() - 65 * 60_000) } });
    const result = await billing.dodo.reportUsage(api(), { orgId: org.id, clock: lagging });
    expect(result).toMatchObject({ sent: 3, expired: 1, failed: 0, batches: 1 });
    expect(await statuses(org.id)).toEqual({ sent: 3, expired: 1 });
    expect(ingestedFor(fake, org.id)).toHaveLength(3);
  });

  it("skips rows another reporter holds instead of waiting for them", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(10);
    const held = ledgerIds.slice(0, 4);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM usage_report_outbox WHERE ledger_id = ANY(${held}::uuid[]) FOR UPDATE`;
      locked();
      await released;
    });
    await isLocked;
    const result = await billing.dodo.reportUsage(api(), { orgId: org.id, waitForRetries: true, maxWaitMs: 20_000 });
    release();
    await holder;
    expect(result).toMatchObject({ sent: 6, deferred: 0 });
    expect(await statuses(org.id)).toEqual({ sent: 6, pending: 4 });
  });

  it("the server's interval reports new usage on its own and stops cleanly", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(3);
    const lines: string[] = [];
    const handle = startUsageReporting({ prisma, api: api(), intervalMs: 100, orgId: org.id, log: (line) => lines.push(line) });
    try {
      await until(async () => (await statuses(org.id)).sent === 3, 20_000, "the first tick to send");
      const later = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `tick-${ledgerIds[0]}` });
      await until(() => fake.ingested.has(later.entry?.id as string), 20_000, "a later tick to send new usage");
    } finally {
      await handle.stop();
    }
    expect(lines.some((l) => /^sent \d+/.test(l))).toBe(true);
    const sentAfterStop = fake.ingested.size;
    await billing.usage.increment(org.id, "api_calls", 1n, "api_call");
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(fake.ingested.size).toBe(sentAfterStop);
  });

  it("two reporters at once take disjoint batches and send each row once", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(3000);
    const [a, b] = await Promise.all([
      billing.dodo.reportUsage(api(), { orgId: org.id, batchSize: 250 }),
      createBillingServices(prisma).dodo.reportUsage(api(), { orgId: org.id, batchSize: 250 }),
    ]);
    expect(a.sent + b.sent).toBe(3000);
    expect(await statuses(org.id)).toEqual({ sent: 3000 });
    expect(ledgerIds.every((id) => fake.deliveries.get(id) === 1)).toBe(true);
  }, 60_000);
});
