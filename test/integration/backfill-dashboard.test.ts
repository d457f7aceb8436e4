import { randomInt } from "node:crypto";

import { TRPCError } from "@trpc/server";
import { parse } from "csv-parse/sync";
import pg from "pg";
import { beforeAll, describe, expect, inject, it } from "vitest";

import { waitFor } from "../helpers/wait";

// Before the auth module reads it (its instance is created on first use, below).
process.env.BETTER_AUTH_SECRET ??= "vitest-backfill-dashboard-secret-0123456789";

const { createCaller } = await import("@/server/api/root");
const { createTRPCContext } = await import("@/server/api/trpc");
const { staffAuth } = await import("@/server/auth");
const { StaffService } = await import("@/server/auth/staff");
const { backgroundBackfills } = await import("@/server/billing/backfill/background");
const { diffCsvStream } = await import("@/server/billing/backfill/diff-export");
const { runIsExecuting } = await import("@/server/billing/backfill/runs");
const { CSV_COLUMNS } = await import("@/server/billing/backfill/csv");
const { seedDatabase, slugPrefix } = await import("@/server/seed");
const { testDatabase, uniqueSuffix } = await import("../helpers/db");

// The dashboard's backfill procedures over HTTP-equivalent callers (real sessions per role),
// with runs executing in the background of this process, as in the server. Every run is
// scoped with an org prefix to organizations seeded here, so other test files' organizations
// (and their own backfill runs) are never touched, and never conflict with ours.

const { prisma, pool } = testDatabase();
const auth = staffAuth(prisma);
const staff = new StaffService(prisma, auth);
const PASSWORD = "correct horse battery";
const launcher = backgroundBackfills();

type Role = "viewer" | "admin";
const users = {} as Record<Role, { email: string; cookie: string }>;

async function callerAs(who: Role | "anonymous") {
  const headers = new Headers(who === "anonymous" ? {} : { cookie: users[who].cookie });
  return createCaller(await createTRPCContext({ headers, db: () => prisma })).billing.backfill;
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

async function seedOrgs(orgs: number): Promise<{ prefix: string; ids: string[]; slugs: string[] }> {
  const seed = randomInt(1_000, 2 ** 32 - 1);
  const prefix = slugPrefix(seed);
  await seedDatabase(pool, { orgs, seed, legacyOnly: true, batchSize: 50 });
  const { rows } = await pool.query<{ id: string; slug: string }>(
    `SELECT id::text, slug FROM organizations WHERE slug LIKE $1 ORDER BY id`,
    [`${prefix}%`],
  );
  return { prefix, ids: rows.map((r) => r.id), slugs: rows.map((r) => r.slug) };
}

/** The run's end, as the background launcher reports it. */
async function settled(runId: string) {
  const done = launcher.settled(runId);
  if (!done) throw new Error(`run ${runId} was not launched by this process`);
  return done;
}

/** Holds an uncommitted cache row of `orgId`: an apply reaching that org waits until `release()`. */
async function block(orgId: string) {
  const client = new pg.Client({ connectionString: inject("databaseUrl"), application_name: "vitest-blocker" });
  await client.connect();
  await client.query("BEGIN");
  await client.query(`INSERT INTO usage_cache (org_id, metric, count) VALUES ($1::uuid, 'members', 0)`, [orgId]);
  const pid = (await client.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows[0]?.pid as number;
  return {
    /** Resolves once some backend waits on our row. */
    async waitForWaiter() {
      await waitFor("a backend to wait on the blocked org", async () => {
        const { rows } = await pool.query(`SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid]);
        return rows.length > 0;
      });
    },
    async release() {
      await client.query("ROLLBACK");
      await client.end();
    },
  };
}

/** Per (org, gauge) of the prefix: cache, SUM(ledger) and the old count agree. */
async function allAgree(prefix: string): Promise<boolean> {
  const { rows } = await pool.query<{ bad: number }>(
    `SELECT count(*)::int AS bad FROM organizations o CROSS JOIN unnest(ARRAY['members', 'teams', 'storage_bytes']) AS m(metric)
     WHERE o.slug LIKE $1 AND (
       COALESCE((SELECT count FROM usage_cache WHERE org_id = o.id AND metric = m.metric), 0)
         <> COALESCE((SELECT sum(delta) FROM usage_ledger WHERE org_id = o.id AND metric = m.metric), 0)
       OR COALESCE((SELECT sum(delta) FROM usage_ledger WHERE org_id = o.id AND metric = m.metric), 0)
         <> CASE m.metric WHEN 'members' THEN (SELECT count(*) FROM members WHERE org_id = o.id)
                          WHEN 'teams' THEN (SELECT count(*) FROM teams WHERE org_id = o.id)
                          ELSE (SELECT COALESCE(sum(size_bytes), 0) FROM stored_files WHERE org_id = o.id) END)`,
    [`${prefix}%`],
  );
  return rows[0]?.bad === 0;
}

async function auditActions(runId: string): Promise<string[]> {
  const rows = await prisma.auditLog.findMany({ where: { targetType: "backfill_run", targetId: runId }, orderBy: { createdAt: "asc" } });
  return rows.map((r) => `${r.action} by ${r.actor}`);
}

beforeAll(async () => {
  const suffix = uniqueSuffix();
  for (const role of ["viewer", "admin"] as const) {
    const email = `backfill-${role}-${suffix}@staff.test`;
    await staff.create({ email, role, password: PASSWORD }, "vitest");
    const response = await auth.api.signInEmail({ body: { email, password: PASSWORD }, asResponse: true });
    expect(response.status).toBe(200);
    users[role] = {
      email,
      cookie: response.headers
        .getSetCookie()
        .map((c) => c.split(";")[0])
        .join("; "),
    };
  }
});

describe("a dry run started from the dashboard", () => {
  let scope: Awaited<ReturnType<typeof seedOrgs>>;
  let runId: string;

  beforeAll(async () => {
    scope = await seedOrgs(24);
    const admin = await callerAs("admin");
    const started = await admin.start({ mode: "dry_run", orgPrefix: scope.prefix, batchSize: 5 });
    runId = started.id;
    expect(started).toMatchObject({ mode: "dry_run", status: "running", state: "running", orgPrefix: scope.prefix, batchSize: 5 });
    expect(started.startedBy).toBe(`staff:${users.admin.email} (dashboard)`);
    // The request answered before the run ended: it executes in the background.
    expect(launcher.isRunningHere(runId)).toBe(true);
    expect(await settled(runId)).toEqual({ runId, status: "completed", error: null });
  });

  it("completes in the background with its totals, progress and audit entry", async () => {
    const viewer = await callerAs("viewer");
    const run = await viewer.get({ runId });
    const { rows } = await pool.query<{ billing: number; legacy: number }>(
      `SELECT count(*) FILTER (WHERE cache_wrong OR ledger_wrong)::int AS billing, count(*) FILTER (WHERE legacy_wrong)::int AS legacy
       FROM backfill_diffs WHERE run_id = $1`,
      [runId],
    );
    expect(run).toMatchObject({
      status: "completed",
      state: "completed",
      orgsTotal: 24,
      orgsScanned: 24,
      mismatches: rows[0]?.billing,
      legacyMismatches: rows[0]?.legacy,
      deltasApplied: 0,
      canCancel: false,
      canResume: false,
      progress: { percent: 100, orgsLeft: 0, etaSeconds: null, phase: "ended" },
    });
    // Legacy-only seed: nothing is on the ledger yet, so every non-zero gauge is a mismatch.
    expect(run.mismatches).toBeGreaterThan(24);
    expect(run.progress.ratePerSecond).toBeGreaterThan(0);
    expect(run.finishedAt).not.toBeNull();
    expect(await auditActions(runId)).toEqual([`backfill_run.start by staff:${users.admin.email}`]);
    // A dry run writes nothing but its report.
    const ledger = await pool.query(`SELECT count(*)::int AS n FROM usage_ledger WHERE org_id = ANY($1::uuid[])`, [scope.ids]);
    expect(ledger.rows[0].n).toBe(0);
  });

  it("pages the whole report by keyset in (org, metric) order, and filters by metric, kind and org", async () => {
    const viewer = await callerAs("viewer");
    const { rows: all } = await pool.query<{ org_id: string; metric: string; kind: string }>(
      `SELECT org_id::text, metric, kind FROM backfill_diffs WHERE run_id = $1 ORDER BY org_id, metric`,
      [runId],
    );
    const key = (d: { orgId?: string; org_id?: string; metric: string }) => `${d.orgId ?? d.org_id}/${d.metric}`;

    const paged: string[] = [];
    let cursor: { orgId: string; metric: "members" | "teams" | "storage_bytes" } | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const page = await viewer.diffs({ runId, cursor, limit: 7 });
      expect(page.items.length).toBeLessThanOrEqual(7);
      paged.push(...page.items.map(key));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(paged).toEqual(all.map(key));

    const teams = await viewer.diffs({ runId, filter: { metric: "teams" }, limit: 500 });
    expect(teams.items.map(key)).toEqual(all.filter((d) => d.metric === "teams").map(key));

    const legacy = await viewer.diffs({ runId, filter: { kind: "legacy_wrong" }, limit: 500 });
    expect(legacy.items.map(key)).toEqual(all.filter((d) => d.kind === "legacy_wrong").map(key));

    const org = scope.ids[3] as string;
    const byId = await viewer.diffs({ runId, filter: { org: org.toUpperCase() }, limit: 500 });
    expect(byId.items.map(key)).toEqual(all.filter((d) => d.org_id === org).map(key));
    expect(byId.items[0]).toMatchObject({ orgId: org, orgSlug: scope.slugs[3] });

    // A full slug is also a prefix of itself only (seeded slugs end in "-<index>").
    const bySlug = await viewer.diffs({ runId, filter: { org: scope.slugs[5] as string, metric: "members" }, limit: 500 });
    expect(bySlug.items.map(key)).toEqual(all.filter((d) => d.org_id === scope.ids[5] && d.metric === "members").map(key));
    const byScope = await viewer.diffs({ runId, filter: { org: scope.prefix }, limit: 500 });
    expect(byScope.items).toHaveLength(all.length);
    expect((await viewer.diffs({ runId, filter: { org: `${scope.prefix}no-such-org` } })).items).toEqual([]);

    // 64-bit amounts arrive as BigInt.
    const storage = (await viewer.diffs({ runId, filter: { metric: "storage_bytes" }, limit: 1 })).items[0];
    expect(typeof storage?.oldCount).toBe("bigint");
  });

  it("downloads the filtered report as CSV, the same rows as the page", async () => {
    const stream = await diffCsvStream(prisma, runId, { metric: "members" });
    const text = await new Response(stream).text();
    const records = parse(text, { columns: true }) as Record<string, string>[];
    const page = await (await callerAs("viewer")).diffs({ runId, filter: { metric: "members" }, limit: 500 });
    expect(Object.keys(records[0] ?? {})).toEqual([...CSV_COLUMNS]);
    expect(records.map((r) => `${r.org_id}/${r.metric}/${r.kind}/${r.old_count}/${r.org_slug}`)).toEqual(
      page.items.map((d) => `${d.orgId}/${d.metric}/${d.kind}/${d.oldCount}/${d.orgSlug}`),
    );
    expect(records.every((r) => r.run_id === runId)).toBe(true);
  });

  it("answers bad input with typed errors and unknown runs with NOT_FOUND", async () => {
    const viewer = await callerAs("viewer");
    const admin = await callerAs("admin");
    expect(await codeOf(() => viewer.get({ runId: "not-a-uuid" }))).toBe("BAD_REQUEST");
    expect(await codeOf(() => viewer.get({ runId: "00000000-0000-4000-8000-000000000000" }))).toBe("NOT_FOUND");
    expect(await codeOf(() => viewer.diffs({ runId: "00000000-0000-4000-8000-000000000000" }))).toBe("NOT_FOUND");
    expect(await codeOf(() => viewer.diffs({ runId, filter: { kind: "nonsense" as "both" } }))).toBe("BAD_REQUEST");
    await expect(diffCsvStream(prisma, "00000000-0000-4000-8000-000000000000", {})).rejects.toMatchObject({ code: "NOT_FOUND" });

    const before = await prisma.backfillRun.count({ where: { startedBy: { startsWith: `staff:${users.admin.email}` } } });
    for (const input of [
      { mode: "verify" },
      { mode: "apply", batchSize: 0 },
      { mode: "dry_run", concurrency: 17 },
      { mode: "dry_run", orgPrefix: "has space" },
    ]) {
      const error = await admin.start(input as never).catch((e: unknown) => e);
      expect(error, JSON.stringify(input)).toBeInstanceOf(TRPCError);
      expect((error as TRPCError).code).toBe("BAD_REQUEST");
    }
    // A finished run cannot be cancelled or resumed (CONFLICT), and nothing changed.
    expect(await codeOf(() => admin.cancel({ runId }))).toBe("CONFLICT");
    expect(await codeOf(() => admin.resume({ runId }))).toBe("CONFLICT");
    expect(await prisma.backfillRun.count({ where: { startedBy: { startsWith: `staff:${users.admin.email}` } } })).toBe(before);
    expect(await auditActions(runId)).toHaveLength(1);
  });
});

describe("roles", () => {
  it("viewers read runs but cannot start, cancel or resume; anonymous callers nothing", async () => {
    const viewer = await callerAs("viewer");
    const anonymous = await callerAs("anonymous");
    const someRun = "00000000-0000-4000-8000-000000000000";
    expect(await codeOf(() => viewer.list({}))).toBe("OK");
    expect(await codeOf(() => viewer.start({ mode: "dry_run", orgPrefix: `nothing-${uniqueSuffix()}` }))).toBe("FORBIDDEN");
    expect(await codeOf(() => viewer.cancel({ runId: someRun }))).toBe("FORBIDDEN");
    expect(await codeOf(() => viewer.resume({ runId: someRun }))).toBe("FORBIDDEN");
    expect(await codeOf(() => anonymous.list({}))).toBe("UNAUTHORIZED");
    expect(await codeOf(() => anonymous.get({ runId: someRun }))).toBe("UNAUTHORIZED");
    expect(await codeOf(() => anonymous.start({ mode: "apply" }))).toBe("UNAUTHORIZED");
    expect(await prisma.backfillRun.count({ where: { startedBy: { startsWith: `staff:${users.viewer.email}` } } })).toBe(0);
  });
});

describe("the runs list", () => {
  it("is newest first and pages by keyset without gaps or repeats", async () => {
    const admin = await callerAs("admin");
    const mine: string[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await admin.start({ mode: "dry_run", orgPrefix: `nothing-${uniqueSuffix()}` });
      await settled(run.id);
      mine.push(run.id);
    }
    // Other test files add runs meanwhile: page until ours are all seen, checking the order.
    const seen: { id: string; startedAt: Date }[] = [];
    let cursor: { startedAt: Date; id: string } | undefined;
    while (!mine.every((id) => seen.some((r) => r.id === id))) {
      const page = await admin.list({ cursor, limit: 2 });
      seen.push(...page.items);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      expect(a.startedAt > b.startedAt || (a.startedAt.getTime() === b.startedAt.getTime() && a.id > b.id)).toBe(true);
    }
    expect(new Set(seen.map((r) => r.id)).size).toBe(seen.length);
    expect(seen.filter((r) => mine.includes(r.id)).map((r) => r.id)).toEqual([...mine].reverse());
  });
});

describe("an apply: cancel, a concurrent apply, resume", () => {
  it("refuses a second overlapping apply, cancels after the current batch, and resumes to zero drift", async () => {
    const scope = await seedOrgs(12);
    const admin = await callerAs("admin");
    // The first org (in keyset order) is held, so the apply waits inside its first batch.
    const blocker = await block(scope.ids[0] as string);
    let released = false;
    try {
      const run = await admin.start({ mode: "apply", orgPrefix: scope.prefix, batchSize: 1, concurrency: 1 });
      await blocker.waitForWaiter();
      const live = await admin.get({ runId: run.id });
      expect(live).toMatchObject({ state: "running", canCancel: true, canResume: false });
      expect(await runIsExecuting(pool, run.id)).toBe(true);

      // Overlapping scopes: the same prefix, all organizations, a longer prefix.
      for (const orgPrefix of [scope.prefix, undefined, scope.slugs[4]]) {
        const error = await admin.start({ mode: "apply", orgPrefix }).catch((e: unknown) => e);
        expect((error as TRPCError).code, String(orgPrefix)).toBe("CONFLICT");
        expect((error as TRPCError).message).toContain(run.id);
      }
      // A dry run over the same orgs, and an apply over other orgs, are fine.
      const dry = await admin.start({ mode: "dry_run", orgPrefix: scope.prefix });
      const elsewhere = await admin.start({ mode: "apply", orgPrefix: `nothing-${uniqueSuffix()}` });
      expect((await settled(elsewhere.id)).status).toBe("completed");

      const cancelling = await admin.cancel({ runId: run.id });
      expect(cancelling).toMatchObject({ status: "cancelling", state: "cancelling", canCancel: false });
      // Asking again changes nothing (and writes no second audit entry).
      expect((await admin.cancel({ runId: run.id })).status).toBe("cancelling");
      await blocker.release();
      released = true;
      expect((await settled(run.id)).status).toBe("cancelled");
      expect((await settled(dry.id)).status).toBe("completed");

      const stopped = await admin.get({ runId: run.id });
      expect(stopped).toMatchObject({ status: "cancelled", state: "cancelled", orgsScanned: 1, cursor: scope.ids[0], canResume: true });
      expect(await allAgree(scope.prefix)).toBe(false);

      const resumed = await admin.resume({ runId: run.id });
      expect(resumed).toMatchObject({ status: "running", state: "running" });
      expect(await codeOf(() => admin.resume({ runId: run.id }))).toBe("CONFLICT"); // already running again
      expect((await settled(run.id)).status).toBe("completed");
      const done = await admin.get({ runId: run.id });
      expect(done).toMatchObject({ status: "completed", orgsScanned: 12, orgsTotal: 12, remaining: 0, progress: { percent: 100 } });
      expect(done.deltasApplied).toBeGreaterThan(12);
      expect(await allAgree(scope.prefix)).toBe(true);
      expect(await auditActions(run.id)).toEqual([
        `backfill_run.start by staff:${users.admin.email}`,
        `backfill_run.cancel by staff:${users.admin.email}`,
        `backfill_run.resume by staff:${users.admin.email}`,
      ]);
    } finally {
      if (!released) await blocker.release();
    }
  });
});

describe("a run whose server died", () => {
  /** A run row as a killed process leaves it: `running`, last touched a minute ago, part done. */
  async function abandonedRun(mode: "dry_run" | "apply", prefix: string, cursor: string | null, orgsScanned: number) {
    const [row] = await prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO backfill_runs (mode, status, org_prefix, cursor, batch_size, concurrency, orgs_total, orgs_scanned, started_by, started_at, updated_at)
      VALUES (${mode}, 'running', ${prefix}, ${cursor}::uuid, 4, 2, 10, ${orgsScanned}, 'a server that died',
              now() - interval '5 minutes', now() - interval '1 minute')
      RETURNING id::text`;
    return row?.id as string;
  }

  it("shows as interrupted (nobody holds its lock), not stuck; resuming finishes it from its cursor", async () => {
    const scope = await seedOrgs(10);
    const runId = await abandonedRun("apply", scope.prefix, scope.ids[3] as string, 4);
    const admin = await callerAs("admin");
    expect(await admin.get({ runId })).toMatchObject({ status: "running", state: "interrupted", canCancel: true, canResume: true });

    // While some process holds the run's lock it is alive, whatever its last update says.
    const holder = new pg.Client({ connectionString: inject("databaseUrl"), application_name: "vitest-run-holder" });
    await holder.connect();
    await holder.query(`SELECT pg_advisory_lock(hashtextextended('backfill_run:' || $1::text, 0))`, [runId]);
    expect((await admin.get({ runId })).state).toBe("running");
    expect(await codeOf(() => admin.resume({ runId }))).toBe("CONFLICT");
    // The process dies: its session (and lock) ends with it.
    await holder.end();
    expect((await admin.get({ runId })).state).toBe("interrupted");

    // An interrupted apply blocks no new one: here one over the last org only.
    const last = await admin.start({ mode: "apply", orgPrefix: scope.slugs[9] });
    expect((await settled(last.id)).status).toBe("completed");

    const resumed = await admin.resume({ runId });
    expect(resumed.state).toBe("running");
    expect((await settled(runId)).status).toBe("completed");
    const done = await admin.get({ runId });
    expect(done).toMatchObject({ status: "completed", state: "completed", orgsScanned: 10, orgsTotal: 10 });

    // It continued after its cursor (org 4): orgs 5–9 were its to fix (org 10, the last, was
    // already fixed by the other run), orgs 1–4 never were — so its closing verification of
    // the whole prefix reports exactly their non-zero gauges as remaining.
    const migrated = await pool.query<{ org_id: string }>(`SELECT DISTINCT org_id::text FROM usage_ledger WHERE actor = $1 ORDER BY 1`, [
      `backfill:${runId}`,
    ]);
    expect(migrated.rows.map((r) => r.org_id)).toEqual(scope.ids.slice(4, 9));
    const { rows } = await pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FILTER (WHERE n > 0) FROM (
                 SELECT (SELECT count(*) FROM members WHERE org_id = o.id) AS n FROM organizations o WHERE o.id = ANY($1::uuid[])
                 UNION ALL SELECT (SELECT count(*) FROM teams WHERE org_id = o.id) FROM organizations o WHERE o.id = ANY($1::uuid[])
                 UNION ALL SELECT (SELECT COALESCE(sum(size_bytes), 0) FROM stored_files WHERE org_id = o.id) FROM organizations o WHERE o.id = ANY($1::uuid[])
               ) g)::int AS n`,
      [scope.ids.slice(0, 4)],
    );
    expect(rows[0]?.n).toBeGreaterThan(0);
    expect(done.remaining).toBe(rows[0]?.n);
    expect(await auditActions(runId)).toEqual([`backfill_run.resume by staff:${users.admin.email}`]);
  });

  it("cancelling an interrupted run marks it cancelled at once (it stays resumable)", async () => {
    const runId = await abandonedRun("dry_run", `nothing-${uniqueSuffix()}`, null, 0);
    const admin = await callerAs("admin");
    const cancelled = await admin.cancel({ runId });
    expect(cancelled).toMatchObject({ status: "cancelled", state: "cancelled", canResume: true });
    expect(cancelled.finishedAt).not.toBeNull();
    expect(await auditActions(runId)).toEqual([`backfill_run.cancel by staff:${users.admin.email}`]);
  });
});
