import { orgIdSchema } from "@/server/billing/schemas";
import { catchUpWindows } from "@/server/billing/window-catch-up";
import { createDatabase } from "@/server/db/client";

import { integerArg, parseOptions, readCommandLine, schemaArg } from "./lib/args";
import { runScript } from "./lib/run-script";

/**
 * `npm run windows:catch-up [-- --dry-run] [--org ORG_ID] [--batch-size N]`: bring every
 * period counter (or one org's) into its current usage window, with the `window_reset`
 * ledger rows its next write would write. The first write in a window does this anyway; this
 * is for the orgs that never write (e.g. free orgs whose counts predate windows). Idempotent:
 * run it twice and the second run moves nothing. `--dry-run` prints what it would do.
 */
const COMMAND = "npm run windows:catch-up";
const USAGE = "usage: npm run windows:catch-up [-- --dry-run] [--org ORG_ID] [--batch-size N]";

const options = readCommandLine(COMMAND, (argv) => {
  const values = parseOptions(argv, { "dry-run": { type: "boolean" }, org: { type: "string" }, "batch-size": { type: "string" } }, USAGE);
  return {
    dryRun: values["dry-run"] === true,
    orgId: schemaArg("--org", values.org, orgIdSchema),
    batchSize: integerArg("--batch-size", values["batch-size"], { min: 1, max: 10_000 }, 500),
  };
});

await runScript(COMMAND, async (databaseUrl) => {
  const database = createDatabase(databaseUrl, { max: 2, applicationName: "windows-catch-up" });
  try {
    const report = await catchUpWindows(database.prisma, { ...options, now: new Date() });
    const verb = report.dryRun ? "would move" : "moved";
    for (const row of report.moved) {
      const removed = row.reset ? `removed ${-row.reset.delta} recorded before it` : "nothing recorded before it";
      console.log(`  ${row.orgId} ${row.metric}: ${verb} into the window from ${row.windowStart.toISOString()}; ${removed}`);
    }
    const resets = report.moved.filter((row) => row.reset).length;
    console.log(
      `windows:catch-up${report.dryRun ? " (dry run, nothing written)" : ""}: ${report.scanned} period counters scanned, ` +
        `${report.moved.length} ${verb} into their current window, ${resets} with a window_reset row`,
    );
  } finally {
    await database.close();
  }
});
