import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { createBillingServices } from "@/server/billing";

import { billingClient } from "../helpers/billing-client";
import { newOrg, testDatabase } from "../helpers/db";
import { routeServerForFile } from "../helpers/route-server";

/**
 * No overshoot when the product app runs in its own processes: 3 client processes
 * (test/workers/consume-client.ts) consume seats of one org through the typed client over
 * real HTTP against the app's real tRPC route, all at once.
 */
const { prisma } = testDatabase();
const PROCESSES = 3;
const CALLS = 12;
const server = await routeServerForFile();

type Result = { allowed: boolean; code: string | null };

/** A client process; `ready` resolves when it has reached the server, `results` when it is done. */
function clientProcess(env: Record<string, string>) {
  const child: ChildProcessWithoutNullStreams = spawn(
    path.resolve("node_modules/.bin/tsx"),
    ["--conditions=react-server", "test/workers/consume-client.ts"],
    {
      env: { ...process.env, ...env },
    },
  );
  let out = "";
  let err = "";
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.startsWith("ready\n")) onReady();
  });
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const results = new Promise<Result[]>((resolve, reject) => {
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`client process exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split("\n").pop() as string) as Result[]);
    });
  });
  // A process that dies before "ready" fails the test instead of leaving it waiting.
  return {
    ready: Promise.race([ready, results.then(() => Promise.reject(new Error(`no "ready" from the client: ${out}`)))]),
    results,
    start: () => child.stdin.end("go\n"),
  };
}

describe("consume from several client processes over HTTP", () => {
  it(`${PROCESSES} processes × ${CALLS} concurrent consumes with 4 seats left: exactly 4 allowed in all, the rest limit_exceeded`, async () => {
    const org = await newOrg(prisma);
    const limit = 5n; // the free plan's members
    await createBillingServices(prisma).usage.increment(org.id, "members", 1n, "member_added");
    const { secret } = await billingClient(prisma, server);
    const env = { WORKER_URL: `${server.origin}/api/trpc`, WORKER_API_KEY: secret, WORKER_ORG_ID: org.id, WORKER_CALLS: String(CALLS) };

    const clients = Array.from({ length: PROCESSES }, () => clientProcess(env));
    await Promise.all(clients.map((c) => c.ready));
    for (const c of clients) c.start();
    const results = (await Promise.all(clients.map((c) => c.results))).flat();

    expect(results).toHaveLength(PROCESSES * CALLS);
    expect(results.filter((r) => r.allowed)).toHaveLength(4);
    expect(results.filter((r) => !r.allowed).map((r) => r.code)).toEqual(Array<string>(PROCESSES * CALLS - 4).fill("limit_exceeded"));

    const sum = await prisma.usageLedger.aggregate({ where: { orgId: org.id, metric: "members" }, _sum: { delta: true } });
    const cache = await prisma.usageCache.findUniqueOrThrow({ where: { orgId_metric: { orgId: org.id, metric: "members" } } });
    expect(cache.count).toBe(limit);
    expect(sum._sum.delta).toBe(limit);
    expect(await prisma.entitlementDenial.count({ where: { orgId: org.id } })).toBe(PROCESSES * CALLS - 4);
    // Starting 3 tsx processes takes 10–30 s on the shared 2-core machine under a full run.
  }, 120_000);
});
