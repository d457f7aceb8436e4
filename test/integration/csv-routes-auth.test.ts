import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { StaffRole } from "@/server/auth";
import { createBillingServices } from "@/server/billing";
import { db as processDb } from "@/server/db/client";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";
import { startRouteServer, type RouteServer } from "../helpers/route-server";
import { signedInStaff, type SignedInStaff } from "../helpers/staff-session";

/**
 * Authorization outside tRPC: the CSV download routes (route handlers, since they stream)
 * over real HTTP, with session cookies from the real sign-in route.
 */
const { prisma } = testDatabase();
let server: RouteServer;
const staff = {} as Record<StaffRole, SignedInStaff>;
let orgId: string;
let runId: string;

beforeAll(async () => {
  server = await startRouteServer();
  for (const role of ["viewer", "finance", "admin"] as const) staff[role] = await signedInStaff(prisma, server.origin, role);
  const org = await newOrg(prisma);
  orgId = org.id;
  await createBillingServices(prisma).usage.increment(orgId, "members", 7n, "member_added", { idempotencyKey: "csv-auth" });
  const run = await prisma.backfillRun.create({
    data: {
      mode: "dry_run",
      status: "completed",
      orgPrefix: `csv-auth-${uniqueSuffix()}`,
      batchSize: 1,
      concurrency: 1,
      startedBy: "vitest",
    },
  });
  runId = run.id;
  await prisma.backfillDiff.create({
    data: {
      runId,
      orgId,
      metric: "members",
      kind: "ledger_missing",
      legacyWrong: false,
      cacheWrong: false,
      ledgerWrong: true,
      oldCount: 7n,
      ledgerBefore: 0n,
    },
  });
});
afterAll(async () => {
  await server.close();
  await processDb().close();
});

type Who = StaffRole | "anonymous" | "forged";
function get(path: string, who: Who): Promise<Response> {
  const cookie = who === "anonymous" ? undefined : who === "forged" ? "billing.session_token=abc.def" : staff[who].cookie;
  return fetch(`${server.origin}${path}`, { headers: cookie ? { cookie } : {} });
}

async function csvRows(response: Response): Promise<Record<string, string>[]> {
  expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
  expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename=".+\.csv"$/);
  return parse(await response.text(), { columns: true }) as Record<string, string>[];
}

describe("GET /api/ledger/export (finance and up)", () => {
  const path = () => `/api/ledger/export?org=${orgId}`;

  it.each([
    ["anonymous", 401],
    ["forged", 401],
    ["viewer", 403],
  ] as const)("%s → %i, no CSV", async (who, status) => {
    const response = await get(path(), who);
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.text()).not.toContain(orgId);
  });

  it.each(["finance", "admin"] as const)("%s → 200 with the org's ledger as CSV", async (who) => {
    const response = await get(path(), who);
    expect(response.status).toBe(200);
    const rows = await csvRows(response);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ org_id: orgId, metric: "members", delta: "7", reason: "member_added", idempotency_key: "csv-auth" });
  });
});

describe("GET /api/backfill/<id>/diffs (any member of staff)", () => {
  const path = () => `/api/backfill/${runId}/diffs`;

  it.each([
    ["anonymous", 401],
    ["forged", 401],
  ] as const)("%s → %i, no CSV", async (who, status) => {
    const response = await get(path(), who);
    expect(response.status).toBe(status);
    expect(await response.text()).not.toContain(orgId);
  });

  it.each(["viewer", "finance"] as const)("%s → 200 with the run's diff report as CSV", async (who) => {
    const response = await get(path(), who);
    expect(response.status).toBe(200);
    const rows = await csvRows(response);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ run_id: runId, org_id: orgId, metric: "members", kind: "ledger_missing", old_count: "7" });
  });
});
