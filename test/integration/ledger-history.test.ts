import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { csvLine, csvLines } from "@/server/billing/csv";
import { CSV_COLUMNS, ledgerCsvStream } from "@/server/billing/ledger-export";
import { ledgerTotals, listLedger } from "@/server/billing/ledger-history";

import { newOrg, testDatabase } from "../helpers/db";

const { prisma, pool } = testDatabase();
const { usage } = createBillingServices(prisma);

async function orgWithHistory() {
  const org = await newOrg(prisma, { name: `Acme, "Quoted" & Co ${Math.random()}` });
  await usage.increment(org.id, "members", 3n, "member_added", { actor: "staff:ana" });
  await usage.increment(org.id, "members", -1n, "member_removed", { actor: "app" });
  await usage.increment(org.id, "storage_bytes", 5n * 2n ** 31n, "file_upload", { actor: "app", metadata: { note: 'line1\nline2, "x"' } });
  await usage.increment(org.id, "teams", 2n, "manual_adjustment", { actor: "staff:ana", idempotencyKey: "adj-1" });
  await usage.increment(org.id, "members", 1n, "member_added", { actor: "app" });
  return org;
}

describe("ledger history for finance", () => {
  it("pages newest first by keyset, with no gaps or repeats", async () => {
    const org = await orgWithHistory();
    const seen: string[] = [];
    let cursor;
    for (let i = 0; i < 10; i++) {
      const page = await listLedger(prisma, { orgId: org.id }, { cursor, limit: 2 });
      seen.push(...page.items.map((e) => e.id));
      expect(page.items.every((e) => e.orgName === org.name)).toBe(true);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const all = await prisma.usageLedger.findMany({ where: { orgId: org.id }, orderBy: [{ timestamp: "desc" }, { id: "desc" }] });
    expect(seen).toEqual(all.map((r) => r.id));
  });

  it("filters by metric, reason, actor and UTC date range, and totals per metric and reason", async () => {
    const org = await orgWithHistory();
    const members = await listLedger(prisma, { orgId: org.id, metric: "members" }, { limit: 50 });
    expect(members.items.map((e) => e.delta).sort()).toEqual([-1n, 1n, 3n].sort());
    const staff = await listLedger(prisma, { orgId: org.id, actor: "staff:ana" }, { limit: 50 });
    expect(staff.items.map((e) => e.reason).sort()).toEqual(["manual_adjustment", "member_added"]);
    const future = await listLedger(prisma, { orgId: org.id, from: new Date(Date.now() + 60_000) }, { limit: 50 });
    expect(future.items).toEqual([]);
    const totals = await ledgerTotals(prisma, { orgId: org.id, metric: "members" });
    expect(totals).toEqual([
      { metric: "members", reason: "member_added", entries: 2n, total: 4n },
      { metric: "members", reason: "member_removed", entries: 1n, total: -1n },
    ]);
    // Without a metric filter, each metric keeps its own sum: members are not added to bytes.
    expect(await ledgerTotals(prisma, { orgId: org.id })).toEqual([
      { metric: "members", reason: "member_added", entries: 2n, total: 4n },
      { metric: "members", reason: "member_removed", entries: 1n, total: -1n },
      { metric: "storage_bytes", reason: "file_upload", entries: 1n, total: 5n * 2n ** 31n },
      { metric: "teams", reason: "manual_adjustment", entries: 1n, total: 2n },
    ]);
  });

  it("totals per (metric, reason) when two metrics share reasons: exact past 2^53, never summed across metrics, filters respected", async () => {
    const startedAt = new Date(Date.now() - 1_000);
    const org = await newOrg(prisma);
    const big = 2n ** 60n; // a sum of two of these is past Number's exact range
    await usage.increment(org.id, "storage_bytes", big + 1n, "import", { actor: "app" });
    await usage.increment(org.id, "storage_bytes", big + 3n, "import", { actor: "app" });
    await usage.increment(org.id, "storage_bytes", -7n, "manual_adjustment", { actor: "staff:ana" });
    await usage.increment(org.id, "members", 5n, "import", { actor: "app" });
    await usage.increment(org.id, "members", 2n, "manual_adjustment", { actor: "staff:ana" });
    await usage.increment(org.id, "members", -1n, "manual_adjustment", { actor: "staff:bo" });
    // Another org with the same reasons: the org filter keeps it out.
    const other = await newOrg(prisma);
    await usage.increment(other.id, "members", 100n, "import", { actor: "app" });

    expect(await ledgerTotals(prisma, { orgId: org.id })).toEqual([
      { metric: "members", reason: "import", entries: 1n, total: 5n },
      { metric: "members", reason: "manual_adjustment", entries: 2n, total: 1n },
      { metric: "storage_bytes", reason: "import", entries: 2n, total: 2n * big + 4n },
      { metric: "storage_bytes", reason: "manual_adjustment", entries: 1n, total: -7n },
    ]);
    expect(await ledgerTotals(prisma, { orgId: org.id, reason: "import" })).toEqual([
      { metric: "members", reason: "import", entries: 1n, total: 5n },
      { metric: "storage_bytes", reason: "import", entries: 2n, total: 2n * big + 4n },
    ]);
    expect(await ledgerTotals(prisma, { orgId: org.id, metric: "storage_bytes" })).toEqual([
      { metric: "storage_bytes", reason: "import", entries: 2n, total: 2n * big + 4n },
      { metric: "storage_bytes", reason: "manual_adjustment", entries: 1n, total: -7n },
    ]);
    expect(await ledgerTotals(prisma, { orgId: org.id, actor: "staff:ana" })).toEqual([
      { metric: "members", reason: "manual_adjustment", entries: 1n, total: 2n },
      { metric: "storage_bytes", reason: "manual_adjustment", entries: 1n, total: -7n },
    ]);
    // The date range: everything was written after `startedAt`, nothing before it.
    expect(await ledgerTotals(prisma, { orgId: org.id, from: startedAt, reason: "manual_adjustment", metric: "members" })).toEqual([
      { metric: "members", reason: "manual_adjustment", entries: 2n, total: 1n },
    ]);
    expect(await ledgerTotals(prisma, { orgId: org.id, to: startedAt })).toEqual([]);
  });

  it("exports the filtered range as CSV: escaped, UTC, BigInt exact, matching the rows", async () => {
    const org = await orgWithHistory();
    const response = new Response(ledgerCsvStream(pool, { orgId: org.id }));
    const records = parse(await response.text(), { columns: true }) as Record<string, string>[];
    const rows = await prisma.usageLedger.findMany({ where: { orgId: org.id }, orderBy: [{ timestamp: "asc" }, { id: "asc" }] });
    expect(Object.keys(records[0] ?? {})).toEqual(CSV_COLUMNS);
    expect(records.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    expect(records.map((r) => BigInt(r.delta as string))).toEqual(rows.map((r) => r.delta));
    expect(records.map((r) => r.timestamp_utc)).toEqual(rows.map((r) => r.timestamp.toISOString()));
    expect(records.every((r) => r.org_name === org.name)).toBe(true);
    const upload = records.find((r) => r.reason === "file_upload");
    expect(upload?.delta).toBe((5n * 2n ** 31n).toString());
    expect(JSON.parse(upload?.metadata as string)).toEqual({ note: 'line1\nline2, "x"' });
  });

  it("writes exactly what the one CSV encoder writes for the same rows, byte for byte (formulas, quotes, newlines, CRLF)", async () => {
    const org = await newOrg(prisma, { name: `=HYPERLINK("x"), Co ${Math.random()}` });
    await usage.increment(org.id, "members", 2n, "member_added", { actor: "@admin", idempotencyKey: "+key,1" });
    await usage.increment(org.id, "members", -1n, "member_removed", { actor: "-app", metadata: { note: 'a\r\nb "c"', t: "\t=1" } });
    await usage.increment(org.id, "storage_bytes", 2n ** 62n, "file_upload", { actor: "\uFF1Dfull-width", metadata: {} });
    const rows = await prisma.usageLedger.findMany({ where: { orgId: org.id }, orderBy: [{ timestamp: "asc" }, { id: "asc" }] });
    const expected =
      csvLine(CSV_COLUMNS) +
      csvLines(
        rows.map((r) => [
          r.timestamp.toISOString(),
          r.id,
          r.orgId,
          org.name,
          r.metric,
          r.delta,
          r.reason,
          r.actor,
          r.idempotencyKey,
          JSON.stringify(r.metadata).replace(/":/g, '": ').replace(/,"/g, ', "'),
        ]),
      );
    expect(await new Response(ledgerCsvStream(pool, { orgId: org.id })).text()).toBe(expected);
  });

  it("streams thousands of rows through the cursor in batches", async () => {
    const org = await newOrg(prisma);
    await usage.incrementMany(Array.from({ length: 5_000 }, () => ({ orgId: org.id, metric: "api_calls", amount: 1, reason: "api_call" })));
    const text = await new Response(ledgerCsvStream(pool, { orgId: org.id })).text();
    expect(parse(text, { columns: true })).toHaveLength(5_000);
    // A consumer that stops early releases the connection (the pool is small).
    for (let i = 0; i < 6; i++) {
      const reader = ledgerCsvStream(pool, { orgId: org.id }).getReader();
      await reader.read();
      await reader.cancel();
    }
    expect((await listLedger(prisma, { orgId: org.id }, { limit: 1 })).items).toHaveLength(1);
  });
});
