import { expect, test, type APIRequestContext, type Page, type PlaywrightWorkerArgs } from "@playwright/test";

import { seededOrgs } from "./fixtures";
import { loadSdk, startSdkApp, type SdkApp } from "./sdk-app/server";
import { storageStateOf } from "./staff";

/**
 * The SDK's React entry in a tiny product app (e2e/sdk-app): its page renders
 * `<BillingProvider>`, `UsageMeter` and `UpgradePrompt`, its backend mounts
 * `createBillingProxy` and consumes `member.add` with the real SDK client — all against the
 * real billing server of the e2e suite, with an API key made for the test and a members limit
 * set for the test's org (an override at its current count + 2), so nothing depends on the
 * seeded counts.
 */

const orgs = seededOrgs();
// Free orgs (no subscription: no SSO) that no other spec uses (the specs share one database).
const promptOrg = orgs[48];
const meterOrg = orgs[47];
const otherOrg = orgs[40];
if (!promptOrg || !meterOrg || !otherOrg || promptOrg.subscription || meterOrg.subscription)
  throw new Error("the e2e data set has no free orgs at 47 and 48");

/** Room for this many invites before the members limit. */
const INVITES = 2n;

type Sdk = Awaited<ReturnType<typeof loadSdk>>;

interface Billing {
  sdk: Sdk;
  client: ReturnType<Sdk["createBillingClient"]>;
  app: SdkApp;
  apiKey: string;
  used: bigint;
  limit: bigint;
  close: () => Promise<void>;
}

/** A tRPC mutation over HTTP as the signed-in admin; returns the superjson `json` payload. */
async function adminMutation(admin: APIRequestContext, procedure: string, input: unknown): Promise<Record<string, unknown>> {
  const response = await admin.post(`/api/trpc/${procedure}`, { data: { json: input } });
  expect(response.status(), `${procedure}: ${await response.text()}`).toBe(200);
  const body = (await response.json()) as { result: { data: { json: Record<string, unknown> } } };
  return body.result.data.json;
}

/**
 * An API key for the product app (made by the admin, as the dashboard does), the org's
 * members limit set at its current count + INVITES, and the tiny app in front of it.
 */
async function setUp(playwright: PlaywrightWorkerArgs["playwright"], baseURL: string, orgId: string): Promise<Billing> {
  const admin = await playwright.request.newContext({ baseURL, storageState: storageStateOf("admin") });
  try {
    const created = await adminMutation(admin, "billing.apiKeys.create", {
      name: `sdk-react e2e ${orgId}`,
      scopes: ["entitlements:read", "usage:read", "usage:write"],
    });
    const apiKey = String(created.secret);
    const sdk = await loadSdk();
    const client = sdk.createBillingClient({ url: `${baseURL}/api/trpc`, apiKey, timeoutMs: 10_000 });

    const before = await client.check({ orgId, action: "member.add" });
    if (before.fallback || before.used === undefined) throw new Error(`member.add is not metered for ${orgId}`);
    const used = before.used;
    const limit = used + INVITES;
    await adminMutation(admin, "billing.overrides.set", {
      orgId,
      metric: "members",
      kind: "hard",
      value: limit.toString(),
      note: "sdk-react e2e: room for two invites",
    });

    const app = await startSdkApp({ billingUrl: `${baseURL}/api/trpc`, apiKey, orgId });
    return { sdk, client, app, apiKey, used, limit, close: () => app.close() };
  } finally {
    await admin.dispose();
  }
}

/** The service's own words for a denial, to compare the page with. */
async function denialMessage(billing: Billing, orgId: string, action: "member.add" | "feature.sso"): Promise<string> {
  const decision = await billing.client.check({ orgId, action });
  if (decision.allowed) throw new Error(`${action} is allowed for ${orgId}`);
  return decision.reason.message;
}

/** Every body the page received, to prove the API key never reached the browser. */
function recordBodies(page: Page): string[] {
  const bodies: string[] = [];
  page.on("response", (response) => {
    void response.text().then(
      (text) => bodies.push(text),
      () => undefined,
    );
  });
  return bodies;
}

// The page's session is the tiny app's own cookie; no dashboard sign-in.
test.use({ storageState: { cookies: [], origins: [] } });

test("UpgradePrompt: SSO is not on the free plan; member.add turns to its denial at the limit; the proxy serves only the session's org", async ({
  page,
  playwright,
  baseURL,
}) => {
  const billing = await setUp(playwright, baseURL ?? "", promptOrg.id);
  try {
    const bodies = recordBodies(page);
    await page.goto(billing.app.url);

    const sso = page.getByRole("region", { name: "Single sign-on" });
    await expect(sso.getByRole("status")).toContainText(await denialMessage(billing, promptOrg.id, "feature.sso"));
    await expect(sso.getByRole("link", { name: "Upgrade" })).toHaveAttribute("href", "/upgrade");
    await expect(sso.getByText("SSO is on")).toHaveCount(0);

    const members = page.getByRole("region", { name: "Members" });
    const invite = members.getByRole("button", { name: "Invite a member" });
    const lastInvite = members.getByRole("status", { name: "Last invite" });
    for (let n = 1n; n <= INVITES; n++) {
      await invite.click();
      // Each invite is one consume on the service: the count it answers goes up by one.
      await expect(lastInvite).toHaveText(`Invite ${n}: allowed, members ${billing.used + n} of ${billing.limit}`);
    }
    // At the limit, the refreshed member.add check is a denial: the button gives way to why.
    const denial = members.locator('[data-action="member.add"]');
    await expect(denial).toContainText(await denialMessage(billing, promptOrg.id, "member.add"));
    await expect(denial.getByRole("link", { name: "Upgrade" })).toBeVisible();
    await expect(invite).toHaveCount(0);

    // The session's own org is answered; naming another org is refused, not answered.
    const own = await page.request.get(`${billing.app.url}/api/billing?op=check&action=feature.sso`);
    expect(own.status()).toBe(200);
    const forged = await page.request.get(`${billing.app.url}/api/billing?op=check&action=feature.sso&orgId=${otherOrg.id}`);
    expect(forged.status()).toBe(400);
    expect(await forged.text()).toContain("org_from_session");
    const anonymous = await playwright.request.newContext();
    try {
      const unsigned = await anonymous.get(`${billing.app.url}/api/billing?op=check&action=feature.sso`);
      expect(unsigned.status()).toBe(401);
    } finally {
      await anonymous.dispose();
    }

    // The browser never holds the API key: not in the page, the script or any answer.
    const html = await (await page.request.get(billing.app.url)).text();
    const script = await (await page.request.get(`${billing.app.url}/app.js`)).text();
    expect(script).toContain("billing-upgrade"); // the SDK's React entry is in this bundle
    expect(bodies.length).toBeGreaterThan(0);
    for (const body of [html, script, ...bodies]) expect(body).not.toContain(billing.apiKey);
  } finally {
    await billing.close();
  }
});

test("UsageMeter: the service's members count, up by one with each invite", async ({ page, playwright, baseURL }) => {
  const billing = await setUp(playwright, baseURL ?? "", meterOrg.id);
  try {
    await page.goto(billing.app.url);
    const meter = page.getByRole("region", { name: "Members" }).locator('.billing-meter[data-metric="members"]');
    await expect(meter).toHaveText(`Members: ${billing.used} of ${billing.limit}`);
    const invite = page.getByRole("button", { name: "Invite a member" });
    for (let n = 1n; n <= INVITES; n++) {
      await invite.click();
      await expect(meter).toHaveText(`Members: ${billing.used + n} of ${billing.limit}`);
      await expect(meter).toHaveAttribute("data-used", String(billing.used + n));
    }
    await expect(meter.getByRole("meter", { name: "Members used" })).toHaveAttribute("value", "1");
    await expect(invite).toHaveCount(0);
  } finally {
    await billing.close();
  }
});
