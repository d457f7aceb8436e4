/**
 * A product-app process (spawned by test/integration/consume-processes-http.test.ts): the
 * typed client against the route server's URL over real HTTP. Prints "ready" once it has
 * talked to the server, waits for a line on stdin (the start signal, so every process fires
 * at once), sends WORKER_CALLS consumes concurrently (one HTTP request each, each its own
 * idempotency key) and prints one JSON line: each call's `allowed` and reason code.
 */
import { createInterface } from "node:readline";

import { createBillingClient } from "@/client";

const orgId = process.env.WORKER_ORG_ID as string;
const calls = Number(process.env.WORKER_CALLS);
const client = createBillingClient({ url: process.env.WORKER_URL as string, apiKey: process.env.WORKER_API_KEY as string, batch: false });

// A check (it writes nothing) authenticates the key and opens the connection before the start.
await client.billing.entitlements.check.query({ orgId, action: "member.add" });
process.stdout.write("ready\n");
const stdin = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => stdin.once("line", () => resolve()));
stdin.close();

const results = await Promise.all(
  Array.from({ length: calls }, (_, i) =>
    client.billing.entitlements.consume
      .mutate({ orgId, action: "member.add", idempotencyKey: `${process.pid}-${i}` })
      .then((r) => ({ allowed: r.allowed, code: r.reason?.code ?? null })),
  ),
);
process.stdout.write(`${JSON.stringify(results)}\n`);
