import { MONTH_PATTERN } from "@/server/billing/ledger-archive/archivable";
import { archiveLedgerMonth } from "@/server/billing/ledger-archive/archive-month";
import { createDatabase } from "@/server/db/client";

import { fileArg, parseOptions, readCommandLine, UsageError } from "./lib/args";
import { runScript } from "./lib/run-script";

/**
 * `npm run archive-ledger -- --month YYYY-MM --out FILE [--dry-run]`: moves one UTC month of
 * the ledger out of the database into FILE (CSV, the ledger export's columns), keeping every
 * invariant (src/server/billing/ledger-archive/archive-month.ts says how, and what a crash
 * leaves). Refuses the current month, the previous one, and a month the rollups have not
 * folded. Run it again after any failure; an archived month is reported, not redone.
 */
const COMMAND = "npm run archive-ledger";
const USAGE = "usage: npm run archive-ledger -- --month YYYY-MM --out FILE [--dry-run]";

const options = readCommandLine(COMMAND, (argv) => {
  const values = parseOptions(argv, { month: { type: "string" }, out: { type: "string" }, "dry-run": { type: "boolean" } }, USAGE);
  const month = values.month?.trim();
  if (!month || !MONTH_PATTERN.test(month)) throw new UsageError(`--month must be a UTC month as YYYY-MM (${USAGE})`);
  const dryRun = values["dry-run"] === true;
  const out = fileArg("--out", values.out);
  if (!out && !dryRun) throw new UsageError(`--out FILE is required (${USAGE})`);
  return { month, out: out ?? "", dryRun };
});

await runScript(COMMAND, async (databaseUrl) => {
  const database = createDatabase(databaseUrl, { max: 2, applicationName: "archive-ledger" });
  try {
    const report = await archiveLedgerMonth(database, { ...options, now: new Date() });
    if (report.status === "dry_run") {
      console.log(
        `archive-ledger (dry run, nothing written): ${report.month} has ${report.rows} ledger rows in ${report.pairs} (org, metric, reason) sums; ` +
          `${report.unfolded} not folded into the rollups yet${report.unfolded > 0n ? " (the archive folds first)" : ""}`,
      );
    } else if (report.status === "already_archived") {
      console.log(`archive-ledger: ${report.month} was archived already: ${report.rows} rows in ${report.file} (sha256 ${report.sha256})`);
    } else {
      console.log(
        `archive-ledger: ${report.month} archived: ${report.rows} rows written to ${report.file} (sha256 ${report.sha256}), ` +
          `${report.pairs} (org, metric, reason) sums recorded, partition dropped`,
      );
    }
  } finally {
    await database.close();
  }
});
