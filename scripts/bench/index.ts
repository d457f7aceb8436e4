import os from "node:os";
import { performance } from "node:perf_hooks";

import { createBillingServices } from "@/server/billing";
import { createDatabase } from "@/server/db/client";

import { readCommandLine } from "../lib/args";
import { alertCost } from "./alert-cost";
import { backfillBench } from "./backfill";
import { checkLatency, orgSizeLatency } from "./checks";
import { dashboardAtScale, type DashboardAtScaleResult } from "./dashboard-at-scale";
import { renderDashboardAtScale } from "./dashboard-at-scale-report";
import { benchServer, freshDatabase, serverVersion } from "./database";
import { countQueries } from "./instrument";
import { growLedger, ledgerPages } from "./ledger-pages";
import { defer, installSignalHandlers, isShuttingDown, shutdown } from "./lifecycle";
import { BENCH_HELP, parseBenchOptions, SECTIONS, type Section } from "./options";
import { partitionCost } from "./partition-cost";
import { pgbenchVersion } from "./pgbench";
import { hasBuild, SERVER_VARIANTS, startRemoteClient, startRemoteServer } from "./remote";
import { renderReport, writeJson } from "./report";
import type { BenchResults } from "./results";
import { sdkTrack } from "./sdk-track";
import { createApiKey, createOrgs, createOrgSizeFixtures } from "./setup";
import { evaluateTargets } from "./targets";
import { batchIngest, hotRow, singleOps, type BenchContext } from "./workloads";

/**
 * `npm run bench [-- --quick] [--json FILE]`: throughput and latency of the billing
 * services, their tRPC HTTP API and a bare-pg / pgbench baseline, on a fresh database,
 * with the invariant verified after every workload. Not a test: it reports, and exits 1
 * only when the run fails, the invariant is broken or the command line is wrong.
 */

const options = readCommandLine("npm run bench", parseBenchOptions);
if (options.help) {
  console.log(BENCH_HELP);
  process.exit(0);
}
installSignalHandlers();
countQueries();
const progress = (line: string) => console.error(`[bench] ${line}`);
const started = performance.now();
const pgbench = options.pgbench ? pgbenchVersion() : null;

const results: BenchResults = {
  meta: {
    profile: options.profile.name,
    settings: options.profile,
    startedAt: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadAverage: { start: os.loadavg() },
    database: "?",
    postgres: "?",
    pgbench,
  },
  throughput: [],
  invariants: [],
  targets: [],
};

let failed = false;
let dashboard: DashboardAtScaleResult | undefined;
const runs = (section: Section) => options.sections.has(section);
try {
  progress(
    `${options.profile.name} run (${[...options.sections].join(", ")}); load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  if (options.pgbench && !pgbench) progress("pgbench not found: its columns will read n/a");
  const server = await benchServer();
  results.meta.database = server.where;
  results.meta.postgres = await serverVersion(server.adminUrl);

  if (SECTIONS.some((section) => section !== "backfill" && section !== "dashboard" && runs(section))) {
    progress("preparing a fresh database…");
    const database = await freshDatabase();
    results.meta.database = database.where;
    const admin = createDatabase(database.url, { max: 2, applicationName: "bench-admin" });
    defer("close admin pool", () => admin.close());
    const services = createBillingServices(admin.prisma, { pool: admin.pool });
    await createOrgs(admin.pool);
    const apiKey = await createApiKey(services);

    const verify = async (after: string) => {
      const drift = await services.usage.verify();
      const { rows } = await admin.pool.query<{ n: string }>("SELECT count(*) AS n FROM usage_ledger");
      results.invariants.push({ after, driftRows: drift.length, ledgerRows: Number(rows[0]?.n ?? 0) });
      progress(`invariant after ${after}: ${drift.length === 0 ? "no drift ✓" : `${drift.length} drifting (org, metric) rows ✗`}`);
      for (const d of drift.slice(0, 5)) progress(`  drift ${d.orgId} ${d.metric}: cache ${d.cache}, ledger ${d.ledger}`);
    };

    const ctx: BenchContext = { url: database.url, apiKey, profile: options.profile, pgbench: pgbench !== null, progress };
    if ((runs("single") || runs("check") || runs("batch")) && options.remote) {
      if (hasBuild()) {
        progress("starting the real server (lean and via-Next) and the client process…");
        const servers = [];
        for (const variant of SERVER_VARIANTS) servers.push(await startRemoteServer(variant, database.url));
        ctx.remote = { client: startRemoteClient(), servers };
      } else {
        progress("no production build (.next/BUILD_ID): the separate-process columns read n/a (run `npx next build --webpack`)");
      }
    }
    if (runs("single")) {
      results.throughput.push(...(await singleOps(ctx, "check")));
      await verify("check ×1/8/32");
      results.throughput.push(...(await singleOps(ctx, "consume")));
      await verify("consume ×1/8/32");
      results.throughput.push(...(await singleOps(ctx, "increment")));
      await verify("increment ×1/8/32");
    }
    if (runs("alerts")) {
      results.alertCost = await alertCost(ctx, admin.pool);
      await verify("consume and increment with and without the alert SQL");
    }
    if (runs("partitions")) {
      results.partitionCost = await partitionCost(ctx);
      await verify("consume and increment, the ledger before #16 and today");
    }
    if (runs("hot-row")) {
      results.hotRow = await hotRow(ctx);
      await verify("hot-row consume");
    }
    if (runs("batch")) {
      results.batch = await batchIngest(ctx);
      await verify("incrementMany");
      const lean = ctx.remote?.servers.find((s) => s.variant === "lean");
      if (ctx.remote && lean) {
        results.sdkTrack = await sdkTrack(admin.pool, ctx.remote.client, lean, apiKey, options.profile.trackEvents);
        progress(`SDK track: ${Math.round(results.sdkTrack.eventsPerSec)} events/s, ${results.sdkTrack.exact ? "exact" : "NOT exact"}`);
        await verify("SDK track");
      }
    }
    if (runs("check")) {
      results.check = await checkLatency(ctx);
      await verify("check");
    }
    if (runs("org-size")) {
      progress("org-size fixtures: 100 000 members and 10 000 files…");
      await createOrgSizeFixtures(admin.prisma, admin.pool, services);
      results.orgSize = await orgSizeLatency(ctx);
      await verify("org-size check");
    }
    if (runs("ledger")) {
      await growLedger(admin.pool, options.profile.ledgerRows, progress);
      results.ledgerPages = await ledgerPages(admin.prisma, admin.pool, options.profile.ledgerCalls);
      await verify("ledger pages");
    }
  }
  if (runs("backfill")) {
    results.backfill = await backfillBench(options.profile, progress);
    // The invariant on each applied copy: its --verify (cache == SUM(ledger) == old count).
    for (const v of results.backfill.variants) {
      results.invariants.push({ after: `backfill --apply, ${v.name}`, driftRows: v.verifyRemaining ?? 1, ledgerRows: v.migrationRows });
    }
  }
  if (runs("dashboard")) {
    dashboard = await dashboardAtScale(options.profile.name, { keep: options.keepDb, http: options.remote }, progress);
  }
} catch (error) {
  failed = true;
  if (!isShuttingDown()) console.error("[bench] failed:", error);
} finally {
  progress("stopping…");
  await shutdown();
}

results.meta.finishedAt = new Date().toISOString();
results.meta.seconds = (performance.now() - started) / 1000;
results.meta.loadAverage.end = os.loadavg();
results.targets = evaluateTargets(results);
console.log(renderReport(results));
if (dashboard) console.log(`\n${renderDashboardAtScale(dashboard)}`);
if (options.json) {
  await writeJson(options.json, { ...results, ...(dashboard ? { dashboardAtScale: dashboard } : {}) });
  progress(`figures written to ${options.json}`);
}
const drifted = results.invariants.some((i) => i.driftRows > 0);
process.exit(failed || drifted ? 1 : 0);
