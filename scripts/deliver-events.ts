import { countPending, deliverEvents } from "@/server/billing/events";
import { orgIdSchema } from "@/server/billing/schemas";
import { createDatabase } from "@/server/db/client";
import { env } from "@/server/env";

import { integerArg, parseOptions, readCommandLine, schemaArg } from "./lib/args";
import { runScript } from "./lib/run-script";

/**
 * `npm run deliver-events [-- --org ORG_ID] [--batch-size N] [--max-wait SECONDS]`: fan new
 * outgoing events out to the webhook endpoints and send every delivery due now, then wait (up
 * to --max-wait, default 0) for retries and other deliverers' expired leases and send those
 * too. Safe beside the web server's deliverer and other copies of this command: each claims
 * different deliveries. Exit 1 when deliveries became failed or are still pending at the end.
 */
const COMMAND = "npm run deliver-events";

const args = readCommandLine(COMMAND, (argv) => {
  const values = parseOptions(
    argv,
    { org: { type: "string" }, "batch-size": { type: "string" }, "max-wait": { type: "string" } },
    "usage: npm run deliver-events [-- --org ORG_ID] [--batch-size N] [--max-wait SECONDS]",
  );
  return {
    orgId: schemaArg("--org", values.org, orgIdSchema),
    batchSize: integerArg("--batch-size", values["batch-size"], { min: 1, max: 500 }, 20),
    // A day at most, like report-usage: a longer wait is a stuck deliverer, not patience.
    maxWaitSeconds: integerArg("--max-wait", values["max-wait"], { min: 0, max: 86_400 }, 0),
  };
});

await runScript(COMMAND, async (databaseUrl) => {
  const { EVENTS_DELIVERY_TIMEOUT_SECONDS, EVENTS_ALLOW_PRIVATE_URLS } = env();
  const database = createDatabase(databaseUrl, { max: 4, applicationName: "deliver-events" });
  try {
    const result = await deliverEvents(database.prisma, {
      orgId: args.orgId,
      batchSize: args.batchSize,
      timeoutMs: EVENTS_DELIVERY_TIMEOUT_SECONDS * 1000,
      policy: { allowPrivate: EVENTS_ALLOW_PRIVATE_URLS },
      waitForRetries: args.maxWaitSeconds > 0,
      maxWaitMs: args.maxWaitSeconds * 1000,
      onAttempt: (d, o) =>
        console.log(
          `deliver-events: ${d.event.id} → ${d.url}: ${o.status ?? "no answer"} ${o.result.kind}${o.error ? ` (${o.error})` : ""}`,
        ),
    });
    const pending = await countPending(database.prisma, args.orgId);
    console.log(
      `deliver-events: ${result.fannedOut} events fanned out; ${result.delivered} delivered, ${result.retried} to retry, ${result.failed} failed in ${result.attempts} attempts; ${pending} pending`,
    );
    return result.failed > 0 || pending > 0 ? 1 : 0;
  } finally {
    await database.close();
  }
});
