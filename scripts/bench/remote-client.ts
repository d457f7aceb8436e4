import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";

import { createBillingClient, stringifyJSON, type BillingClient } from "../../packages/client/src";
import { summarize, window } from "./measure";
import type { RemoteCommand, RemoteOp, RemoteReply } from "./remote";
import { randomSpreadOrg } from "./setup";

/**
 * The product app as its own process (forked by remote.ts): the product app's client, the SDK
 * (packages/client: one call, one request, Node's own HTTP), calling the server over loopback,
 * as commanded over IPC — closed-loop throughput at N clients, or sequential latencies. It
 * reports what it did and the CPU it spent, so the bench can tell the client's share from the
 * server's. A call the SDK could not get answered would come back as a fallback decision: that
 * fails the bench rather than count (and no retries: each call is one exchange).
 */

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** The product app's client as the bench drives it: patient (a loaded machine is not an outage), one attempt per call. */
const sdkClient = (url: string, apiKey: string): BillingClient =>
  createBillingClient({ url, apiKey, timeoutMs: 60_000, retry: { attempts: 1 } });

async function call(client: BillingClient, op: RemoteOp): Promise<void> {
  const decision =
    op === "check"
      ? await client.check({ orgId: randomSpreadOrg(), action: "api.call" })
      : await client.consume({ orgId: randomSpreadOrg(), action: "api.call", idempotencyKey: randomUUID() });
  if (decision.fallback) throw new Error(`${op}: the billing service did not answer: ${stringifyJSON(decision)}`);
  if (op === "consume" && !decision.allowed) throw new Error(`consume denied: ${stringifyJSON(decision)}`);
}

/**
 * The SDK's buffered `track()` end to end: `events` calls over the spread orgs (the event loop
 * let run every 1 000, the tracker's default flush size, as a busy app's would), then close():
 * the time until every event is confirmed by the server.
 */
async function track(command: Extract<RemoteCommand, { kind: "track" }>): Promise<RemoteReply> {
  const sdk = createBillingClient({ url: command.url, apiKey: command.apiKey });
  const cpu0 = cpuMs();
  const start = performance.now();
  for (let i = 0; i < command.events; i++) {
    sdk.track(randomSpreadOrg(), "api_calls");
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
  const allSent = await sdk.close(120_000);
  const seconds = (performance.now() - start) / 1000;
  const confirmed = sdk.trackerStats()?.confirmed.api_calls ?? 0n;
  return { kind: "track", seconds, clientCpuMs: cpuMs() - cpu0, confirmed: confirmed.toString(), allSent };
}

async function run(command: RemoteCommand): Promise<RemoteReply> {
  if (command.kind === "track") return track(command);
  if (command.kind === "throughput") {
    const clients = Array.from({ length: command.clients }, () => sdkClient(command.url, command.apiKey));
    const sample = await window({
      clients: command.clients,
      warmupMs: command.warmupMs,
      durationMs: command.durationMs,
      op: (i) => call(clients[i] as BillingClient, command.op),
    });
    return { kind: "throughput", ops: sample.ops, seconds: sample.seconds, clientCpuMs: sample.cpuMs };
  }
  // One client per server, the calls interleaved (a, b, a, b, …) so a load spike on this
  // shared machine hits every server alike.
  const perServer = command.urls.map((url) => sdkClient(url, command.apiKey));
  for (let i = 0; i < command.warmup; i++) for (const client of perServer) await call(client, command.op);
  const cpu0 = cpuMs();
  const samples = perServer.map(() => [] as number[]);
  for (let i = 0; i < command.count; i++) {
    for (const [k, client] of perServer.entries()) {
      const start = performance.now();
      await call(client, command.op);
      samples[k]?.push(performance.now() - start);
    }
  }
  return { kind: "latency", latencies: samples.map(summarize), clientCpuMs: cpuMs() - cpu0 };
}

process.on("message", (command: RemoteCommand) => {
  run(command).then(
    (reply) => process.send?.(reply),
    (error: unknown) => process.send?.({ kind: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.on("disconnect", () => process.exit(0));
