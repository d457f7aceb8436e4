import { startFakeDodo } from "../tools";
import { integerArg, parseOptions, readCommandLine, UsageError } from "./lib/args";

/**
 * A fake Dodo Payments API on 127.0.0.1 (see tools/fake-dodo/server.ts), for demos:
 *   tsx scripts/fake-dodo.ts --port 8787 [--api-key KEY] \
 *     [--webhook-url http://localhost:3000/api/webhooks/dodo --webhook-secret whsec_…]
 * then run the app with DODO_PAYMENTS_BASE_URL=http://127.0.0.1:8787,
 * DODO_PAYMENTS_API_KEY=KEY and DODO_PAYMENTS_WEBHOOK_KEY=<the same whsec_…>.
 */

const args = readCommandLine("npm run fake-dodo", (argv) => {
  const values = parseOptions(
    argv,
    {
      port: { type: "string" },
      "api-key": { type: "string" },
      "webhook-url": { type: "string" },
      "webhook-secret": { type: "string" },
    },
    "usage: npm run fake-dodo -- [--port N] [--api-key KEY] [--webhook-url URL --webhook-secret whsec_…]",
  );
  const target = values["webhook-url"];
  const secret = values["webhook-secret"];
  if (target && !secret) throw new UsageError("--webhook-url needs --webhook-secret (the whsec_… the app verifies with)");
  return {
    // 0: any free port (the tests' choice).
    port: integerArg("--port", values.port, { min: 0, max: 65_535 }, 8787),
    apiKey: values["api-key"],
    webhook: target && secret ? { target, secret } : undefined,
  };
});

const fake = await startFakeDodo(args);
console.log(`fake Dodo listening on ${fake.url} (API key: ${fake.apiKey})`);
console.log(`  POST ${fake.url}/_fake/subscriptions  {"orgId":"<org uuid>","product_id":"pdt_billing_pro"}`);
console.log(`  POST ${fake.url}/_fake/subscriptions/<sub id>/webhook  {"type":"subscription.active"}`);

const stop = () => {
  void fake.close().then(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
