import { parseArgs } from "node:util";
import { createDodoClient } from "@/server/billing/dodo";
import { BillingError } from "@/server/billing/errors";
import { orgIdSchema } from "@/server/billing/schemas";
import { INGEST_TIMEOUT_MS, MAX_INGEST_BATCH, reportUsage } from "@/server/billing/usage-reporting";
import { createDatabase } from "@/server/db/client";
import { runScript } from "./lib/run-script";

/**
 * `npm run report-usage [-- --org ORG_ID] [--batch-size N] [--max-wait SECONDS]`: send every
 * pending metered usage row to Dodo now, waiting for rows a 429/5xx put off (up to
 * --max-wait, default 300 s). Safe beside the web server's own reporter and other copies of
 * this command: each claims different rows. Exit 1 when rows are left failed or unsent.
 */
const { values } = parseArgs({
  options: { org: { type: "string" }, "batch-size": { type: "string" }, "max-wait": { type: "string" } },
});

await runScript("npm run report-usage", async (databaseUrl) => {
  if (values.org !== undefined && !orgIdSchema.safeParse(values.org).success) {
    throw new BillingError("BAD_REQUEST", "usage", `--org must be an organization id (UUID), got "${values.org}"`);
  }
  const batchSize = values["batch-size"] === undefined ? MAX_INGEST_BATCH : Number(values["batch-size"]);
  const maxWait = values["max-wait"] === undefined ? 300 : Number(values["max-wait"]);
  if (!Number.isInteger(maxWait) || maxWait < 0) {
    throw new BillingError("BAD_REQUEST", "usage", `--max-wait must be a whole number of seconds, got "${values["max-wait"]}"`);
  }
  // The reporter retries on its own schedule, never inside the SDK while it holds the rows.
  const api = createDodoClient({ maxRetries: 0, timeout: INGEST_TIMEOUT_MS });
  if (!api) throw new BillingError("PRECONDITION_FAILED", "no_api_key", "DODO_PAYMENTS_API_KEY is not set: nowhere to report usage to");
  const database = createDatabase(databaseUrl, { max: 2, applicationName: "report-usage" });
  try {
    const result = await reportUsage(database.prisma, api, {
      orgId: values.org,
      batchSize,
      waitForRetries: true,
      maxWaitMs: maxWait * 1000,
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
