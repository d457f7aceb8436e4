import { readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Before the auth module reads it (the routes' instance is created on their first request).
process.env.BETTER_AUTH_SECRET ??= "vitest-csv-formula-secret-0123456789abcdef";

const { staffAuth } = await import("@/server/auth");
const { StaffService } = await import("@/server/auth/staff");
const { createBillingServices } = await import("@/server/billing");
const { writeDiffCsv } = await import("@/server/billing/backfill");
const { ledgerInsertCtes } = await import("@/server/billing/ledger-insert-sql");
const { Prisma } = await import("@/server/db/client");
const { newOrg, testDatabase, uniqueSuffix } = await import("../helpers/db");
const { startRouteServer } = await import("../helpers/route-server");

// Both CSV downloads over real HTTP (the real route modules), with text that outsiders choose
// — an idempotency key, an organization's name and slug, an actor, a reason — starting with a
// character a spreadsheet runs as a formula. Such a cell must come back prefixed with `'`,
// while a negative amount (a number, not a formula) stays as it is. Who may download is
// tested elsewhere; here a finance member of staff does.

const { prisma, pool } = testDatabase();
const { usage } = createBillingServices(prisma);
const auth = staffAuth(prisma);
const server = await startRouteServer();
afterAll(() => server.close());

const HYPERLINK = '=HYPERLINK("http://x","click")';
let cookie = "";

beforeAll(async () => {
  const email = `csv-finance-${uniqueSuffix()}@staff.test`;
  const password = "correct horse battery";
  await new StaffService(prisma, auth).create({ email, role: "finance", password }, "vitest");
  // The API call, not the HTTP endpoint: no sign-in rate-limit bucket is touched.
  const response = await auth.api.signInEmail({ body: { email, password }, asResponse: true });
  expect(response.status).toBe(200);
  cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
});

async function download(path: string): Promise<Record<string, string>[]> {
  const response = await fetch(`${server.origin}${path}`, { headers: { cookie } });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/csv/);
  return parse(await response.text(), { columns: true }) as Record<string, string>[];
}

describe("CSV exports neutralise formulas (OWASP CSV injection)", () => {
  it("the ledger export prefixes formula-like text with ' and leaves negative deltas alone", async () => {
    const suffix = uniqueSuffix();
    const org = await newOrg(prisma, { name: `\tTab org ${suffix}` });
    await usage.increment(org.id, "api_calls", 10n, "api_call", { idempotencyKey: HYPERLINK, actor: "app", metadata: { via: "@api" } });
    // What the API's input rules would refuse (a reason that is not snake_case, a key starting
    // with a tab) can still be in the table — an older writer, a manual fix — so the export
    // must not trust it either. Written with its cache change, as every ledger row is.
    await prisma.$transaction([
      prisma.$executeRaw`WITH ${ledgerInsertCtes(
        "ins",
        Prisma.sql`VALUES (gen_random_uuid(), ${org.id}::uuid, 'api_calls', -5::bigint, '+correction', ${`\tkey-${suffix}`}::text, '@SUM(1+1)',
                           '{"note":"-1"}'::jsonb, now())`,
      )} SELECT 1 FROM ins`,
      prisma.$executeRaw`UPDATE usage_cache SET count = count - 5 WHERE org_id = ${org.id}::uuid AND metric = 'api_calls'`,
    ]);
    await usage.increment(org.id, "api_calls", 1n, "api_call", { idempotencyKey: `-2+3-${suffix}`, actor: "+app" });

    const records = await download(`/api/ledger/export?org=${org.id}`);
    expect(records).toHaveLength(3);
    // Rows written within one millisecond have no fixed order: find each by its delta.
    const byDelta = new Map(records.map((r) => [r.delta, r]));
    expect([...byDelta.keys()].sort()).toEqual(["-5", "1", "10"]);
    expect(byDelta.get("10")).toMatchObject({
      idempotency_key: `'${HYPERLINK}`,
      org_name: `'\tTab org ${suffix}`,
      reason: "api_call",
      actor: "app",
    });
    expect(byDelta.get("-5")).toMatchObject({ idempotency_key: `'\tkey-${suffix}`, reason: "'+correction", actor: "'@SUM(1+1)" });
    expect(byDelta.get("1")).toMatchObject({ idempotency_key: `'-2+3-${suffix}`, actor: "'+app" });
    // Metadata is JSON text (it starts with `{`): never a formula, and still valid JSON.
    expect(JSON.parse(byDelta.get("10")?.metadata as string)).toEqual({ via: "@api" });
    expect(JSON.parse(byDelta.get("-5")?.metadata as string)).toEqual({ note: "-1" });
  });

  it("the backfill diff report (download and --csv file alike) uses the same rule: a formula-like slug is prefixed, a negative delta is not", async () => {
    const suffix = uniqueSuffix();
    const org = await newOrg(prisma, { slug: `@evil-${suffix}`, name: `Evil ${suffix}` });
    const plain = await newOrg(prisma, { slug: `-minus-${suffix}` });
    const run = await prisma.backfillRun.create({
      data: {
        mode: "dry_run",
        status: "completed",
        orgPrefix: `csv-${suffix}`,
        batchSize: 10,
        concurrency: 1,
        startedBy: "vitest-csv",
        finishedAt: new Date(),
      },
    });
    const diff = {
      runId: run.id,
      metric: "members",
      kind: "ledger_wrong",
      legacyWrong: false,
      cacheWrong: false,
      ledgerWrong: true,
      ledgerBefore: 7n,
    };
    await prisma.backfillDiff.createMany({
      data: [
        { ...diff, orgId: org.id, oldCount: 2n, cacheBefore: 7n, legacyValue: -3n, deltaApplied: -5n },
        { ...diff, orgId: plain.id, oldCount: 9n, cacheBefore: null, legacyValue: null, deltaApplied: 2n },
      ],
    });

    const records = await download(`/api/backfill/${run.id}/diffs`);
    const byOrg = new Map(records.map((r) => [r.org_id, r]));
    expect(byOrg.get(org.id)).toMatchObject({
      org_slug: `'@evil-${suffix}`,
      delta_applied: "-5",
      legacy_value: "-3",
      old_count: "2",
      ledger_wrong: "true",
      cache_wrong: "false",
    });
    expect(byOrg.get(plain.id)).toMatchObject({ org_slug: `'-minus-${suffix}`, delta_applied: "2", cache_before: "", legacy_value: "" });

    // `npm run backfill -- --csv FILE` writes the same report: the same bytes as the download.
    const file = path.join(os.tmpdir(), `diffs-${suffix}.csv`);
    try {
      await writeDiffCsv(pool, run.id, file);
      const response = await fetch(`${server.origin}/api/backfill/${run.id}/diffs`, { headers: { cookie } });
      expect(await readFile(file, "utf8")).toBe(await response.text());
    } finally {
      await rm(file, { force: true });
    }
  });
});
