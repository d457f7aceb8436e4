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

/** Sequential latencies are timed in this many blocks per server, each after a few untimed calls. */
const LATENCY_BLOCKS = 4;
const LATENCY_REWARM = 20;

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
  // One client per server, each warmed up, then timed in blocks: a product app talks to one
  // server, and a call to the other right before each call would time that server's
  // after-work too (through Next, ~5 ms of CPU per call, on a 2-core machine). The blocks
  // take turns in alternating order (a b, b a, …) so a load spike hits every server alike.
  const perServer = command.urls.map((url) => sdkClient(url, command.apiKey));
  for (const client of perServer) for (let i = 0; i < command.warmup; i++) await call(client, command.op);
  const samples = perServer.map(() => [] as number[]);
  const clientCpuMs = perServer.map(() => 0);
  for (let block = 0; block < LATENCY_BLOCKS; block++) {
    const order = block % 2 === 0 ? [...perServer.keys()] : [...perServer.keys()].reverse();
    for (const k of order) {
      const client = perServer[k] as BillingClient;
      for (let i = 0; i < LATENCY_REWARM; i++) await call(client, command.op);
      const cpu0 = cpuMs();
      for (let i = 0; i < Math.ceil(command.count / LATENCY_BLOCKS); i++) {
        const start = performance.now();
        await call(client, command.op);
        samples[k]?.push(performance.now() - start);
      }
      clientCpuMs[k] = (clientCpuMs[k] ?? 0) + cpuMs() - cpu0;
    }
  }
  const served = samples.map((s) => command.warmup + LATENCY_BLOCKS * LATENCY_REWARM + s.length);
  return { kind: "latency", latencies: samples.map(summarize), clientCpuMs, served };
}

process.on("message", (command: RemoteCommand) => {
  run(command).then(
    (reply) => process.send?.(reply),
    (error: unknown) => process.send?.({ kind: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.on("disconnect", () => process.exit(0));
