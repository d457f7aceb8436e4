import { execFile, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ApiKeyService } from "@/server/billing/api-keys";
import { deliverEvents } from "@/server/billing/events";
import { createEndpointAsStaff } from "@/server/billing/events/endpoints";
import { setOverrideAsStaff } from "@/server/billing/limit-overrides";

import { newOrg, testDatabase } from "../helpers/db";
import { routeServerForFile } from "../helpers/route-server";

/**
 * The SDK as a product app meets it: built, packed with `npm pack`, installed from the
 * tarball into an empty directory outside the repository, compiled by `tsc` under the module
 * modes product apps use (bundler, node16, nodenext) with `skipLibCheck: false`, and run as
 * plain `node` against the real API route. The scenarios live in test/fixtures/client-app.
 */

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "../..");
const packageDir = path.join(repo, "packages/client");
const fixture = path.join(repo, "test/fixtures/client-app");
const tsc = path.join(repo, "node_modules/typescript/bin/tsc");
const npm = (args: string[], cwd: string) =>
  run("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd, maxBuffer: 16 << 20 });
const rootPackage = JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")) as {
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};
const pinned = (name: string) => `${name}@${rootPackage.devDependencies[name] ?? rootPackage.dependencies[name]}`;

const { prisma } = testDatabase();
const server = await routeServerForFile();
let scratch: string;
let tarball: string;
let installedBytes: number;
let nodenextBuild: { code: number; output: string };

function duBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? duBytes(full) : entry.isFile() ? statSync(full).size : 0;
  }
  return total;
}

async function typecheck(config: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run(process.execPath, [tsc, "-p", config, "--pretty", "false"], { cwd: scratch, maxBuffer: 16 << 20 });
    return { code: 0, output: stdout };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, output: `${failure.stdout}${failure.stderr}` };
  }
}

beforeAll(async () => {
  await run(process.execPath, [path.join(packageDir, "build.mjs")], { cwd: repo });
  scratch = mkdtempSync(path.join(os.tmpdir(), "billing-client-app-"));
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", scratch], { cwd: packageDir });
  tarball = path.join(scratch, (JSON.parse(stdout) as { filename: string }[])[0]?.filename as string);
  cpSync(fixture, scratch, { recursive: true });
  rmSync(path.join(scratch, "README.md"));
  const manifest = { name: "product-app", private: true, type: "module" };
  await import("node:fs").then((fs) => fs.writeFileSync(path.join(scratch, "package.json"), JSON.stringify(manifest)));
  // First the package alone, to weigh what it brings; then what the app itself compiles with.
  await npm(["install", tarball], scratch);
  installedBytes = duBytes(path.join(scratch, "node_modules"));
  await npm(["install", "--save-dev", pinned("@types/node"), pinned("@types/react"), pinned("react")], scratch);
  nodenextBuild = await typecheck("tsconfig.nodenext.json");
}, 300_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the packed client in a product app", () => {
  it("ships compiled code and bundled types only, needs no install script, and installs small", () => {
    const installed = path.join(scratch, "node_modules/@ledger-policy/billing-client");
    const manifest = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8")) as Record<string, unknown>;
    const scripts = (manifest.scripts ?? {}) as Record<string, string>;
    for (const hook of ["preinstall", "install", "postinstall", "prepare"]) expect(scripts[hook], hook).toBeUndefined();
    expect(Object.keys(manifest.dependencies as object)).toEqual(["superjson"]);
    expect(readdirSync(path.join(installed, "dist")).sort()).toEqual(
      ["index.cjs", "index.d.cts", "index.d.ts", "index.js", "react.cjs", "react.d.cts", "react.d.ts", "react.js"].sort(),
    );
    // One self-contained declaration per entry: nothing of the server, no path alias.
    for (const types of ["index.d.ts", "react.d.ts"]) {
      const text = readFileSync(path.join(installed, "dist", types), "utf8");
      expect(text).not.toMatch(/from ['"](@\/|\.\.?\/|@trpc|@prisma|zod)/);
    }
    console.log(`installed size of the package and its dependencies: ${(installedBytes / 1024).toFixed(0)} KiB`);
    expect(installedBytes).toBeLessThan(1024 * 1024);
  });

  it("typechecks under moduleResolution bundler, refusing exactly the wrong calls (skipLibCheck false)", async () => {
    const result = await typecheck("tsconfig.bundler.json");
    expect(result.code).not.toBe(0);
    const source = readFileSync(path.join(scratch, "wrong.ts"), "utf8").split("\n");
    const expected = source.flatMap((line, i) => {
      const match = /\/\/ ✗ (TS\d+)/.exec(line);
      return match ? [`wrong.ts:${i + 1} ${match[1]}`] : [];
    });
    const actual = [...result.output.matchAll(/^([\w.-]+)\((\d+),\d+\): error (TS\d+)/gm)].map((m) => `${m[1]}:${m[2]} ${m[3]}`);
    expect(expected.length).toBeGreaterThanOrEqual(6);
    expect([...new Set(actual)].sort()).toEqual(expected.sort());
  });

  it("typechecks under moduleResolution node16 and nodenext (skipLibCheck false)", async () => {
    expect(await typecheck("tsconfig.node16.json")).toEqual({ code: 0, output: "" });
    // The nodenext build is also what the live run below executes (out/app.js).
    expect(nodenextBuild).toEqual({ code: 0, output: "" });
  });

  it("loads with require() too (CommonJS)", async () => {
    const { stdout } = await run(
      process.execPath,
      ["-e", "const c = require('@ledger-policy/billing-client'); console.log(typeof c.createBillingClient, typeof c.isBillingError)"],
      { cwd: scratch },
    );
    expect(stdout.trim()).toBe("function function");
  });

  it("runs against the live server: decisions, denial, typed errors, timeout, fallbacks, the proxy, track exactly once", async () => {
    expect(nodenextBuild.code).toBe(0);
    const { secret } = await new ApiKeyService(prisma).create({
      name: "client-package",
      scopes: ["usage:read", "usage:write", "entitlements:read"],
      createdBy: "vitest",
    });
    const org = await newOrg(prisma);
    await prisma.limitOverride.create({
      data: { orgId: org.id, metric: "members", kind: "hard", value: 2n, note: "test: two seats", createdBy: "test" },
    });

    const { stdout } = await run(process.execPath, [path.join(scratch, "out/app.js")], {
      cwd: scratch,
      env: { ...process.env, BILLING_URL: `${server.origin}/api/trpc`, BILLING_API_KEY: secret, ORG_ID: org.id },
      timeout: 120_000,
    });
    const out = JSON.parse(stdout) as Record<string, Record<string, unknown>>;

    expect(out.check).toEqual({ allowed: true, fallback: false, plan: "free" });
    expect(out.consumes).toEqual(["allowed", "allowed", "limit_exceeded"]);
    expect(out.replayed).toBe(true);
    expect(out.badInput).toMatchObject({ billingError: true, code: "BAD_REQUEST", reason: "invalid_input", httpStatus: 400 });
    expect(out.badKey).toMatchObject({ billingError: true, code: "UNAUTHORIZED", httpStatus: 401 });
    expect(out.timeout).toMatchObject({ billingError: true, code: "TIMEOUT" });
    // The deadline holds, retries included: 400 ms asked, well under the 15 s the issue saw pending.
    expect(out.timeout?.ms).toBeGreaterThanOrEqual(350);
    expect(out.timeout?.ms).toBeLessThan(10_000);
    expect(out.timeoutFallback).toEqual({ allowed: false, fallback: true });
    expect(out.downOpen).toEqual({ allowed: true, fallback: true, reason: "billing_unavailable", error: "NETWORK_ERROR" });
    expect(out.downClosed).toEqual({ allowed: false, fallback: true, reason: "billing_unavailable", replayed: false });
    expect(out.downThrow).toMatchObject({ billingError: true, code: "NETWORK_ERROR" });
    expect(out.proxy).toEqual({ status: 200, orgMatches: true, members: "2", forged: 400, anonymous: 401 });
    expect(out.track).toEqual({
      failedAttempts: 1,
      pendingAfterLostAnswer: 1,
      drained: true,
      apiCalls: "250",
      aiRequests: "100",
      confirmed: { api_calls: "250", ai_requests: "100" },
    });
    expect(out.usageJson).toBeGreaterThan(0);

    // The ledger agrees: one row per (metric, flush), applied once despite the resend.
    const tracked = await prisma.usageLedger.groupBy({
      by: ["metric"],
      where: { orgId: org.id, reason: "tracked" },
      _count: true,
      _sum: { delta: true },
    });
    expect(Object.fromEntries(tracked.map((row) => [row.metric, [row._count, row._sum.delta]]))).toEqual({
      api_calls: [1, 250n],
      ai_requests: [1, 100n],
    });
  });
  it("receives a real signed event through the package's webhook handler, and refuses a forged one", async () => {
    expect(nodenextBuild.code).toBe(0);
    const receiver = spawn(process.execPath, [path.join(scratch, "out/receiver.js")], { cwd: scratch, stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: receiver.stdout })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await lines.next()).value as string) as Record<string, unknown>;
    const { port } = (await next()) as { port: number };

    const org = await newOrg(prisma);
    const { endpoint, secret } = await createEndpointAsStaff(
      prisma,
      { url: `http://127.0.0.1:${port}/billing-events`, eventTypes: ["entitlements.changed"] },
      "staff:package-test@example.com",
      { allowPrivate: true },
    );
    try {
      receiver.stdin.write(`${secret}\n`);
      // A real cause: an admin's override emits entitlements.changed in its transaction.
      await setOverrideAsStaff(
        prisma,
        { orgId: org.id, metric: "members", kind: "hard", value: 5n, note: "package test" },
        "staff:a@example.com",
      );
      const sent = await deliverEvents(prisma, { orgId: org.id, timeoutMs: 10_000, policy: { allowPrivate: true } });
      expect(sent).toMatchObject({ delivered: 1, failed: 0, retried: 0 });
      // A forged delivery: right shape, wrong key.
      const forged = await fetch(`http://127.0.0.1:${port}/billing-events`, {
        method: "POST",
        headers: {
          "webhook-id": "evt_forged",
          "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
          "webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        },
        body: JSON.stringify({
          id: "evt_forged",
          type: "test.ping",
          orgId: org.id,
          occurredAt: new Date().toISOString(),
          version: 1,
          data: {},
        }),
      });
      expect(forged.status).toBe(400);
    } finally {
      receiver.stdin.end();
      await prisma.webhookEndpoint.update({ where: { id: endpoint.id }, data: { enabled: false } });
    }
    const received = (await next()) as { events: { id: string; type: string; orgId: string; webhookId: string }[]; statuses: number[] };
    const [event] = await prisma.billingEvent.findMany({ where: { orgId: org.id, type: "entitlements.changed" } });
    expect(received.events).toEqual([{ id: event?.id, type: "entitlements.changed", orgId: org.id, webhookId: event?.id, version: 1 }]);
    expect(received.statuses).toEqual([204, 400]);
  });
});
