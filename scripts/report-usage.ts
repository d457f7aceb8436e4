import { createDodoClient } from "@/server/billing/dodo";
import { BillingError } from "@/server/billing/errors";
import { orgIdSchema } from "@/server/billing/schemas";
import { INGEST_TIMEOUT_MS, MAX_INGEST_BATCH, reportUsage } from "@/server/billing/usage-reporting";
import { createDatabase } from "@/server/db/client";

import { integerArg, parseOptions, readCommandLine, schemaArg } from "./lib/args";
import { runScript } from "./lib/run-script";

/**
 * `npm run report-usage [-- --org ORG_ID] [--batch-size N] [--max-wait SECONDS]`: send every
 * pending metered usage row to Dodo now, waiting for rows a 429/5xx put off (up to
 * --max-wait, default 300 s). Safe beside the web server's own reporter and other copies of
 * this command: each claims different rows. Exit 1 when rows are left failed or unsent.
 */
const COMMAND = "npm run report-usage";

const args = readCommandLine(COMMAND, (argv) => {
  const values = parseOptions(
    argv,
    { org: { type: "string" }, "batch-size": { type: "string" }, "max-wait": { type: "string" } },
    "usage: npm run report-usage [-- --org ORG_ID] [--batch-size N] [--max-wait SECONDS]",
  );
  return {
    orgId: schemaArg("--org", values.org, orgIdSchema),
    batchSize: integerArg("--batch-size", values["batch-size"], { min: 1, max: MAX_INGEST_BATCH }, MAX_INGEST_BATCH),
    // A day at most: a longer wait is a stuck reporter, not patience.
    maxWaitSeconds: integerArg("--max-wait", values["max-wait"], { min: 0, max: 86_400 }, 300),
  };
});

await runScript(COMMAND, async (databaseUrl) => {
  // The reporter retries on its own schedule, never inside the SDK while it holds the rows.
  const api = createDodoClient({ maxRetries: 0, timeout: INGEST_TIMEOUT_MS });
  if (!api) throw new BillingError("PRECONDITION_FAILED", "no_api_key", "DODO_PAYMENTS_API_KEY is not set: nowhere to report usage to");
  const database = createDatabase(databaseUrl, { max: 2, applicationName: "report-usage" });
  try {
    const result = await reportUsage(database.prisma, api, {
      orgId: args.orgId,
      batchSize: args.batchSize,
      waitForRetries: true,
      maxWaitMs: args.maxWaitSeconds * 1000,
      onBatch: (b) =>
        console.log(
          `report-usage: batch of ${b.claimed}: ${b.sent} sent, ${b.expired} expired, ${b.failed} failed, ${b.deferred} put off` +
            (b.retryAt ? ` until ${b.retryAt.toISOString()}` : "") +
            (b.error ? ` (${b.error})` : ""),
        ),
    });
    console.log(
      `report-usage: ${result.sent} sent, ${result.expired} expired, ${result.failed} failed, ${result.deferred} still pending after retries, in ${result.batches} batches`,
    );
    return result.failed > 0 || result.deferred > 0 ? 1 : 0;
  } finally {
    await database.close();
  }
});
