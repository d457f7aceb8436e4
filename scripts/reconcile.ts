import { createBillingServices } from "@/server/billing";
import { createDodoClient } from "@/server/billing/dodo";
import { BillingError } from "@/server/billing/errors";
import { orgIdSchema } from "@/server/billing/schemas";
import { createDatabase } from "@/server/db/client";

import { parseOptions, readCommandLine, schemaArg } from "./lib/args";
import { runScript } from "./lib/run-script";

/**
 * `npm run reconcile [-- --org ORG_ID]`: fetch every known subscription (or one org's) from
 * the Dodo API and sync it, so a lost webhook cannot leave an org on the wrong plan. Exit 1
 * when any subscription could not be fetched or synced.
 */
const COMMAND = "npm run reconcile";

const orgId = readCommandLine(COMMAND, (argv) => {
  const values = parseOptions(argv, { org: { type: "string" } }, "usage: npm run reconcile [-- --org ORG_ID]");
  return schemaArg("--org", values.org, orgIdSchema);
});

await runScript(COMMAND, async (databaseUrl) => {
  const api = createDodoClient();
  if (!api) throw new BillingError("PRECONDITION_FAILED", "no_api_key", "DODO_PAYMENTS_API_KEY is not set: nothing to reconcile against");
  const database = createDatabase(databaseUrl, { max: 2, applicationName: "reconcile" });
  try {
    const report = await createBillingServices(database.prisma).dodo.reconcileSubscriptions(api, { orgId });
    console.log(
      `reconcile: ${report.checked} checked, ${report.synced} synced, ${report.stale} already newer, ${report.problems.length} problems`,
    );
    for (const p of report.problems) console.log(`  ${p.subscriptionId}: ${p.error}`);
    return report.problems.length ? 1 : 0;
  } finally {
    await database.close();
  }
});
