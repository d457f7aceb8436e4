import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { createBillingServices } from "@/server/billing";
import { DodoBilling } from "@/server/billing/dodo/dodo-billing";

import { fakeId, startFakeDodo, subscriptionPayload, type FakeDodo } from "../../tools";
import { CLI_TIMEOUT_MS, runScript } from "../helpers/cli";
import { newOrg, testDatabase } from "../helpers/db";

const { prisma } = testDatabase();
const billing = createBillingServices(prisma);
const service = new DodoBilling(prisma, billing.usage);

// Asynchronous on purpose: the fake Dodo serves from this process, so blocking it (spawnSync)
// would leave the CLI's requests unanswered. Each run is one node process (test/helpers/cli.ts).
const reconcile = (args: string[], env: Record<string, string>) =>
  runScript("scripts/reconcile.ts", args, { DATABASE_URL: inject("databaseUrl"), DODO_PAYMENTS_API_KEY: "", ...env });

describe("npm run reconcile", () => {
  let fake: FakeDodo;
  beforeAll(async () => {
    fake = await startFakeDodo({ apiKey: "cli_key" });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it(
    "repairs an org whose cancellation webhook was lost, through the real SDK and CLI",
    async () => {
      const org = await newOrg(prisma);
      const sub = subscriptionPayload({ orgId: org.id, product_id: "pdt_billing_business" });
      await service.syncSubscription({
        id: fakeId("msg"),
        type: "subscription.active",
        timestamp: new Date(Date.now() - 86_400_000),
        data: sub,
      });
      expect(await billing.entitlements.check(org.id, "feature.sso")).toMatchObject({ allowed: true, plan: "business" });

      fake.putSubscription({ ...sub, status: "expired", expires_at: new Date(Date.now() - 60_000).toISOString() });
      const run = await reconcile(["--org", org.id], { DODO_PAYMENTS_API_KEY: "cli_key", DODO_PAYMENTS_BASE_URL: fake.url });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("1 checked, 1 synced");
      expect(await billing.entitlements.check(org.id, "feature.sso")).toMatchObject({ allowed: false, plan: "free" });
    },
    CLI_TIMEOUT_MS,
  );

  it(
    "says so in one line without an API key or with a bad --org",
    async () => {
      // Both at once: two independent processes, one cold start's wait.
      const [noKey, badOrg] = await Promise.all([reconcile([], {}), reconcile(["--org", "nope"], { DODO_PAYMENTS_API_KEY: "k" })]);
      expect(noKey.code).toBe(1);
      expect(noKey.stderr.trim().split("\n")).toEqual([
        "npm run reconcile: DODO_PAYMENTS_API_KEY is not set: nothing to reconcile against",
      ]);
      expect(badOrg.code).toBe(1);
      expect(badOrg.stderr.trim().split("\n")).toEqual(['npm run reconcile: --org must be an organization id (UUID), got "nope"']);
    },
    CLI_TIMEOUT_MS,
  );
});
