import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";

import { createBillingServices } from "@/server/billing";
import { createDodoClient } from "@/server/billing/dodo";
import { reportUsage, startUsageReporting, type UsageIngestApi } from "@/server/billing/usage-reporting";
import type { PrismaClient } from "@/server/db/client";

import { fakeId, startFakeDodo, subscriptionPayload, type FakeDodo } from "../../tools";
import { CLI_TIMEOUT_MS, startScript } from "../helpers/cli";
import { newOrg, testDatabase } from "../helpers/db";
import { waitFor } from "../helpers/wait";

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);
const API_KEY = "reporter_test_key";

async function paidOrgWithCalls(calls: number) {
  const org = await newOrg(prisma);
  const sub = subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_pro" });
  await billing.dodo.syncSubscription({
    id: fakeId("msg"),
    type: "subscription.active",
    timestamp: new Date(Date.now() - 60_000),
    data: sub,
  });
  for (let done = 0; done < calls; done += 1000) {
    const events = Array.from({ length: Math.min(1000, calls - done) }, () => ({
      orgId: org.id,
      metric: "api_calls",
      amount: 1n,
      reason: "api_call",
    }));
    const results = await billing.usage.incrementMany(events);
    expect(results.every((r) => r.status === "applied")).toBe(true);
  }
  const ledgerIds = (await prisma.usageLedger.findMany({ where: { orgId: org.id, metric: "api_calls" }, select: { id: true } })).map(
    (r) => r.id,
  );
  return { org, sub, ledgerIds };
}

const statuses = async (orgId: string) =>
  Object.fromEntries(
    (await prisma.usageReportOutbox.groupBy({ by: ["status"], where: { orgId }, _count: true })).map((g) => [g.status, g._count]),
  );

/** What the fake Dodo holds for one org (other test files report other orgs to their own fakes). */
const ingestedFor = (fake: FakeDodo, orgId: string) => [...fake.ingested.values()].filter((e) => e.metadata?.org_id === orgId);

/** `npm run report-usage --org ORG` as a real OS process, reporting to the fake. */
const reporterProcess = (fake: FakeDodo, orgId: string, args: string[] = []) =>
  startScript("scripts/report-usage.ts", ["--org", orgId, "--max-wait", "60", ...args], {
    DATABASE_URL: inject("databaseUrl"),
    DODO_PAYMENTS_API_KEY: API_KEY,
    DODO_PAYMENTS_BASE_URL: fake.url,
  });

/** The number the command's last line reports as sent. */
const sentBy = (stdout: string) => Number(/report-usage: (\d+) sent,/.exec(stdout)?.[1] ?? Number.NaN);

/**
 * The test's client, counting the statements started through it. A reporter tick's first
 * statement starts synchronously when the tick fires, so the count tells at once whether a
 * tick started — no waiting to see whether something happens.
 */
function countingClient(client: PrismaClient): { client: PrismaClient; statements(): number } {
  let statements = 0;
  const counted = new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof property !== "string" || !property.startsWith("$") || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (property !== "$on" && property !== "$extends") statements += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { client: counted, statements: () => statements };
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

  it(
    "a reporter killed mid-batch and restarted delivers every ledger row exactly once by event_id",
    async () => {
      const { org, sub, ledgerIds } = await paidOrgWithCalls(2500);
      // Dodo stores the first batch, then never answers: the reporter dies not knowing.
      fake.fail({ route: "ingest", afterIngest: true, delayMs: 120_000 });
      const first = reporterProcess(fake, org.id);
      try {
        await waitFor("the first batch to reach the fake", () => ingestedFor(fake, org.id).length >= 1000, { timeoutMs: CLI_TIMEOUT_MS });
        first.child.kill("SIGKILL");
        await first.exit;
      } finally {
        first.killIfRunning();
      }
      // Its transaction dies with its connection (once PostgreSQL notices): nothing was marked sent.
      await waitFor(
        "the killed reporter's session to end",
        async () =>
          (
            await prisma.$queryRaw<
              { n: bigint }[]
            >`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'report-usage'`
          )[0]?.n === 0n,
      );
      expect((await statuses(org.id)).sent).toBeUndefined();

      const done = await reporterProcess(fake, org.id).exit;
      expect(done.stderr).toBe("");
      expect(done.code).toBe(0);
      expect(done.stdout).toContain("2500 sent");

      expect(await statuses(org.id)).toEqual({ sent: 2500 });
      const ingested = ingestedFor(fake, org.id);
      expect(ingested).toHaveLength(2500);
      expect(new Set(ingested.map((e) => e.event_id))).toEqual(new Set(ledgerIds));
      // The first batch really went twice; Dodo kept each event_id once.
      const resent = ledgerIds.filter((id) => fake.deliveries.get(id) === 2);
      expect(resent).toHaveLength(1000);
      expect(ledgerIds.every((id) => (fake.deliveries.get(id) ?? 0) >= 1)).toBe(true);
      expect(
        ingested.every((e) => e.customer_id === sub.customer.customer_id && e.event_name === "api_calls" && e.metadata?.quantity === 1),
      ).toBe(true);
    },
    3 * CLI_TIMEOUT_MS,
  );

  it("retries 429 after its retry-after and 500 with backoff, sending nothing meanwhile, then sends everything", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(1200);
    fake.fail({ route: "ingest", status: 429, retryAfter: 2 });
    fake.fail({ route: "ingest", status: 500 });
    const started = Date.now();
    const batches: string[] = [];
    const result = await reportUsage(prisma, api(), {
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
    const rows = await prisma.usageReportOutbox.findMany({
      where: { orgId: org.id },
      select: { attempts: true, lastError: true, sentAt: true },
    });
    expect(rows.every((r) => r.attempts >= 2 && r.lastError === null && r.sentAt !== null)).toBe(true);
  }, 60_000);

  it("after a 429 sends nothing more in that run, not even other rows", async () => {
    const { org } = await paidOrgWithCalls(10);
    fake.fail({ route: "ingest", status: 429, retryAfter: 30 });
    const result = await reportUsage(prisma, api(), { orgId: org.id, batchSize: 5 });
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
    const result = await reportUsage(prisma, api(), { orgId: org.id });
    expect(result).toMatchObject({ batches: 1, sent: 8, failed: 1, expired: 0, deferred: 0 });
    const rows = await prisma.usageReportOutbox.findMany({ where: { orgId: org.id } });
    expect(rows.filter((r) => r.status === "failed").map((r) => r.ledgerId)).toEqual([bad]);
    expect(rows.find((r) => r.ledgerId === bad)?.lastError).toMatch(/^422/);
    expect(
      ingestedFor(fake, org.id)
        .map((e) => e.event_id)
        .sort(),
    ).toEqual(ledgerIds.filter((id) => id !== bad).sort());
    expect(ledgerIds.filter((id) => id !== bad).every((id) => fake.deliveries.get(id) === 1)).toBe(true);
  });

  it("puts off an event Dodo says is ahead of its clock and sends the rest", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(3);
    const ahead = ledgerIds[0] as string;
    await prisma.usageReportOutbox.updateMany({ where: { ledgerId: ahead }, data: { eventTimestamp: new Date(Date.now() + 10 * 60_000) } });
    const result = await reportUsage(prisma, api(), { orgId: org.id });
    expect(result).toMatchObject({ sent: 2, expired: 0, failed: 0, deferred: 1 });
    expect(await prisma.usageReportOutbox.findUnique({ where: { ledgerId: ahead } })).toMatchObject({ status: "pending", attempts: 1 });
  });

  it("leaves rows pending with the error when Dodo stays down, for the next run", async () => {
    const { org } = await paidOrgWithCalls(3);
    fake.fail({ route: "ingest", status: 503, retryAfter: 600, times: 5 });
    const result = await reportUsage(prisma, api(), { orgId: org.id });
    expect(result).toMatchObject({ sent: 0, deferred: 3, batches: 1 });
    const rows = await prisma.usageReportOutbox.findMany({ where: { orgId: org.id } });
    expect(rows.every((r) => r.status === "pending" && r.attempts === 1 && r.lastError?.startsWith("503"))).toBe(true);
    expect(rows.every((r) => r.nextAttemptAt.getTime() > Date.now() + 590_000)).toBe(true);
  });

  it("expires rows older than Dodo's 1-hour window instead of sending or dropping them", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(5);
    const stale = ledgerIds.slice(0, 3);
    await prisma.usageReportOutbox.updateMany({
      where: { ledgerId: { in: stale } },
      data: { eventTimestamp: new Date(Date.now() - 2 * 3_600_000) },
    });
    const result = await reportUsage(prisma, api(), { orgId: org.id });
    expect(result).toMatchObject({ sent: 2, expired: 3 });
    const rows = await prisma.usageReportOutbox.findMany({ where: { orgId: org.id } });
    expect(
      rows
        .filter((r) => r.status === "expired")
        .map((r) => r.ledgerId)
        .sort(),
    ).toEqual([...stale].sort());
    expect(rows.find((r) => r.status === "expired")?.lastError).toMatch(/1-hour ingest window/);
    expect(
      ingestedFor(fake, org.id)
        .map((e) => e.event_id)
        .sort(),
    ).toEqual(ledgerIds.slice(3).sort());
  });

  it("expires the events Dodo itself refuses as too old and sends the rest of the batch", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(4);
    const lagging = () => new Date(Date.now() - 10 * 60_000); // this reporter's clock is 10 minutes slow
    const tooOld = ledgerIds.slice(0, 1);
    await prisma.usageReportOutbox.updateMany({ where: { orgId: org.id }, data: { nextAttemptAt: new Date(Date.now() - 20 * 60_000) } });
    await prisma.usageReportOutbox.updateMany({
      where: { ledgerId: { in: tooOld } },
      data: { eventTimestamp: new Date(Date.now() - 65 * 60_000) },
    });
    const result = await reportUsage(prisma, api(), { orgId: org.id, clock: lagging });
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
    const result = await reportUsage(prisma, api(), { orgId: org.id, waitForRetries: true, maxWaitMs: 20_000 });
    release();
    await holder;
    expect(result).toMatchObject({ sent: 6, deferred: 0 });
    expect(await statuses(org.id)).toEqual({ sent: 6, pending: 4 });
  });

  it("the server's interval reports new usage on its own; stop waits for the tick in flight, and no tick starts after it", async () => {
    const { org, ledgerIds } = await paidOrgWithCalls(3);
    // Only the interval's timer is simulated, so the test moves its clock: "after stop" then
    // spans as many intervals as it likes, deterministically. The database and HTTP are real.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const dodo = api();
      /** The event ids of each request the interval sent; a request waits for `hold` first. */
      const sent: string[][] = [];
      let hold: Promise<void> | undefined;
      const held: UsageIngestApi = {
        usageEvents: {
          async ingest(body) {
            sent.push(body.events.map((e) => e.event_id));
            await hold;
            return dodo.usageEvents.ingest(body);
          },
        },
      };
      const db = countingClient(prisma);
      const lines: string[] = [];
      const handle = startUsageReporting({ prisma: db.client, api: held, intervalMs: 100, orgId: org.id, log: (line) => lines.push(line) });
      const nextInterval = () => vi.advanceTimersByTime(100);
      let release = () => {};
      try {
        await waitFor("the first tick to send", async () => (await statuses(org.id)).sent === 3);
        const later = await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `tick-${ledgerIds[0]}` });
        await waitFor("a later tick to send new usage", () => {
          nextInterval();
          return fake.ingested.has(later.entry?.id as string);
        });
        expect(lines.some((l) => /^sent \d+/.test(l))).toBe(true);

        // A tick whose request Dodo has not answered yet when stop is called.
        hold = new Promise<void>((resolve) => (release = resolve));
        const inFlight = (await billing.entitlements.consume(org.id, "api.call", { idempotencyKey: `tick-${ledgerIds[1]}` })).entry
          ?.id as string;
        await waitFor("a tick to send the new row", () => {
          nextInterval();
          return sent.some((ids) => ids.includes(inFlight));
        });
        let stopped = false;
        const stopping = handle.stop().then(() => (stopped = true));
        await statuses(org.id); // a database round trip: a stop that did not wait would have resolved by now
        expect(stopped).toBe(false);
        release();
        await stopping;
        // Resolved only once that tick was done: its row is marked sent (committed).
        expect(await prisma.usageReportOutbox.findUnique({ where: { ledgerId: inFlight } })).toMatchObject({ status: "sent" });
      } finally {
        release();
        await handle.stop();
      }

      // After stop: new pending usage, and fifty intervals of the timer's clock. No timer is
      // left, no tick starts a statement, nothing more is sent, the row stays pending.
      const statementsAtStop = db.statements();
      expect(statementsAtStop).toBeGreaterThan(0); // the count does see the ticks' statements
      const requestsAtStop = sent.length;
      const pending = await billing.usage.increment(org.id, "api_calls", 1n, "api_call");
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(50 * 100);
      expect(db.statements()).toBe(statementsAtStop);
      expect(sent).toHaveLength(requestsAtStop);
      expect(await prisma.usageReportOutbox.findUnique({ where: { ledgerId: pending.entry.id } })).toMatchObject({ status: "pending" });
    } finally {
      vi.useRealTimers();
    }
  });

  it(
    "two reporter processes whose batches provably overlap take disjoint rows and send each row once",
    async () => {
      const { org, ledgerIds } = await paidOrgWithCalls(3000);
      // The first request to reach Dodo is held unanswered — its reporter's claim stays open —
      // until a second request has arrived. A reporter sends one batch at a time, so that
      // second request comes from the other process, which claimed while the first held its rows.
      let release = () => {};
      fake.fail({ route: "ingest", holdUntil: new Promise<void>((resolve) => (release = resolve)) });
      const ingestRequests = () => fake.requests.filter((r) => r.path === "/events/ingest");
      const reporters = [reporterProcess(fake, org.id, ["--batch-size", "250"]), reporterProcess(fake, org.id, ["--batch-size", "250"])];
      try {
        await waitFor(
          "a second reporter's request while the first one's is held",
          () => {
            const [first, second] = ingestRequests();
            return first?.status === 0 && second !== undefined;
          },
          { timeoutMs: 2 * CLI_TIMEOUT_MS },
        );
        release();
        const done = await Promise.all(reporters.map((r) => r.exit));
        for (const d of done) {
          expect(d.stderr).toBe("");
          expect(d.code).toBe(0);
        }
        // Both really sent, and together everything.
        const sentCounts = done.map((d) => sentBy(d.stdout));
        expect(sentCounts.every((n) => n > 0)).toBe(true);
        expect(sentCounts.reduce((a, b) => a + b, 0)).toBe(3000);
      } finally {
        release();
        for (const r of reporters) r.killIfRunning();
      }
      // Each row marked sent, and delivered to Dodo exactly once (by event_id).
      expect(await statuses(org.id)).toEqual({ sent: 3000 });
      expect(ledgerIds.filter((id) => fake.deliveries.get(id) !== 1)).toEqual([]);
      expect(new Set(ingestedFor(fake, org.id).map((e) => e.event_id))).toEqual(new Set(ledgerIds));
    },
    3 * CLI_TIMEOUT_MS,
  );
});
