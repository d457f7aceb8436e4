/**
 * Runs once when a Next.js server starts: the usage reporter's interval lives in the web
 * server (off without DODO_PAYMENTS_API_KEY or with USAGE_REPORT_INTERVAL_SECONDS=0), and so
 * does the ledger's folding into the dashboard's rollups (ROLLUP_FOLD_INTERVAL_SECONDS=0: off)
 * and the outgoing events' deliverer (EVENTS_DELIVERY_INTERVAL_SECONDS=0: off), and the hourly
 * check that the ledger's partitions of this month and the next two exist.
 */
export async function register() {
  // Node.js only (never the edge bundle), and not while `next build` collects pages.
  if (process.env.NEXT_RUNTIME !== "nodejs" || process.env.NEXT_PHASE === "phase-production-build") return;
  const { startServerUsageReporting } = await import("@/server/billing/usage-reporting/in-server");
  console.log(`[usage-reporting] ${startServerUsageReporting()}`);
  const { startServerLedgerFolding } = await import("@/server/billing/rollup/in-server");
  console.log(`[rollup] ${startServerLedgerFolding()}`);
  const { startServerEventDelivery } = await import("@/server/billing/events/in-server");
  console.log(`[events] ${startServerEventDelivery()}`);
  const { startServerLedgerMonths } = await import("@/server/billing/ledger-archive/in-server");
  console.log(`[ledger-months] ${startServerLedgerMonths()}`);
}
