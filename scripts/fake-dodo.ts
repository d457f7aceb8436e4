import { parseArgs } from "node:util";
import { startFakeDodo } from "./fake-dodo/server";

/**
 * A fake Dodo Payments API on 127.0.0.1 (see scripts/fake-dodo/server.ts), for demos:
 *   tsx scripts/fake-dodo.ts --port 8787 [--api-key KEY] \
 *     [--webhook-url http://localhost:3000/api/webhooks/dodo --webhook-secret whsec_…]
 * then run the app with DODO_PAYMENTS_BASE_URL=http://127.0.0.1:8787,
 * DODO_PAYMENTS_API_KEY=KEY and DODO_PAYMENTS_WEBHOOK_KEY=<the same whsec_…>.
 */

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    "api-key": { type: "string" },
    "webhook-url": { type: "string" },
    "webhook-secret": { type: "string" },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, got ${values.port}`);
  process.exit(1);
}
if (values["webhook-url"] && !values["webhook-secret"]) {
  console.error("--webhook-url needs --webhook-secret (the whsec_… the app verifies with)");
  process.exit(1);
}

const fake = await startFakeDodo({
  port,
  apiKey: values["api-key"],
  webhook: values["webhook-url"] ? { target: values["webhook-url"], secret: values["webhook-secret"] as string } : undefined,
});
console.log(`fake Dodo listening on ${fake.url} (API key: ${fake.apiKey})`);
console.log(`  POST ${fake.url}/_fake/subscriptions  {"orgId":"<org uuid>","product_id":"pdt_billing_pro"}`);
console.log(`  POST ${fake.url}/_fake/subscriptions/<sub id>/webhook  {"type":"subscription.active"}`);

const stop = () => {
  void fake.close().then(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
