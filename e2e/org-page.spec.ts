import { expect, test, type Page } from "@playwright/test";

import { formatUtc } from "@/app/_lib/format";
import { METRIC_DEFINITIONS, METRICS } from "@/server/billing/metrics";
import { currentWindow } from "@/server/billing/usage-window";

import { seededOrgs } from "./fixtures";
import { E2E_STAFF, storageStateOf } from "./staff";

const orgs = seededOrgs();
// Orgs no other spec changes (the specs run in parallel on one database).
const adjusted = orgs[50];
const overridden = orgs[51];
const viewed = orgs[52];
const denied = orgs[53];
const alerted = orgs[54];
// A free org (no subscription): its billing-period metrics count in UTC calendar months.
const free = orgs.find((o, i) => i >= 50 && !o.subscription);
if (!adjusted || !overridden || !viewed || !denied || !alerted || !free) throw new Error("the e2e data set is too small");

const card = (page: Page, label: string) => page.getByRole("region", { name: label, exact: true });
const numberIn = async (page: Page, label: string, testId: string) =>
  Number(((await card(page, label).getByTestId(testId).textContent()) ?? "").replace(/,/g, ""));

/** A tRPC call over HTTP as the page's signed-in user; returns the superjson `json` payload. */
async function trpc(page: Page, kind: "query" | "mutation", path: string, input: unknown, headers: Record<string, string> = {}) {
  const response =
    kind === "query"
      ? await page.request.get(`/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, { headers })
      : await page.request.post(`/api/trpc/${path}`, { data: { json: input }, headers });
  const body = (await response.json()) as { result?: { data?: { json?: unknown } }; error?: { json?: { data?: { code?: string } } } };
  return {
    status: response.status(),
    data: body.result?.data?.json as Record<string, unknown> | undefined,
    code: body.error?.json?.data?.code ?? null,
  };
}

test.describe("admin", () => {
  test.use({ storageState: storageStateOf("admin") });

  test("a manual adjustment changes the usage bar and appears in the org's ledger and /ledger", async ({ page }) => {
    await page.goto("/organizations");
    await page.getByRole("searchbox", { name: "Search" }).fill(adjusted.id);
    await page.getByRole("searchbox", { name: "Search" }).press("Enter");
    await page.getByRole("link", { name: adjusted.name, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`/organizations/${adjusted.id}$`));
    await expect(page.getByRole("heading", { level: 1, name: adjusted.name })).toBeVisible();
    await expect(page.getByTestId("org-id")).toHaveText(adjusted.id);
    // One chart per metric of the catalogue (recharts renders SVG on the client).
    await expect(page.locator("figure.chart")).toHaveCount(METRICS.length);
    await expect(page.locator("figure.chart svg.recharts-surface").first()).toBeVisible();

    const before = await numberIn(page, "Members", "usage-used");
    const reason = `e2e: two seats added by phone ${Date.now()}`;
    const form = page.getByRole("form", { name: "Manual adjustment" });
    await form.getByLabel("Metric").selectOption("members");
    await form.getByLabel("Amount (signed)").fill("+2");
    await form.getByLabel("Reason").fill(reason);
    await form.getByRole("button", { name: "Apply adjustment" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Applied" })).toContainText(`members is now ${before + 2}`);
    await expect(card(page, "Members").getByTestId("usage-used")).toHaveText(String(before + 2));

    const history = page.getByRole("table", { name: "Ledger history" });
    const row = history.getByRole("row").filter({ hasText: reason });
    await expect(row).toHaveCount(1);
    await expect(row).toContainText("manual_adjustment");
    await expect(row).toContainText("+2");
    await expect(row).toContainText(`staff:${E2E_STAFF.admin.email}`);

    // A gauge cannot go below zero: the typed error is shown and nothing changes.
    await form.getByLabel("Amount (signed)").fill(String(-(before + 1000)));
    await form.getByLabel("Reason").fill("too much");
    await form.getByRole("button", { name: "Apply adjustment" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "cannot go below zero" })).toBeVisible();
    await expect(card(page, "Members").getByTestId("usage-used")).toHaveText(String(before + 2));

    await page.getByRole("link", { name: "Open in the ledger" }).click();
    await expect(page).toHaveURL(new RegExp(`/ledger\\?org=${adjusted.id}$`));
    const entry = page.getByRole("region", { name: "Entries" }).getByRole("row").filter({ hasText: "manual_adjustment" });
    await expect(entry).toHaveCount(1);
    await expect(entry).toContainText(`staff:${E2E_STAFF.admin.email}`);
    await expect(entry).toContainText("+2");
  });

  test("an override changes the displayed limit and the policy the product app sees", async ({ page }) => {
    await page.goto(`/organizations/${overridden.id}`);
    const members = card(page, "Members");
    await expect(members).toBeVisible();
    const used = await numberIn(page, "Members", "usage-used");
    const limit = used + 37;

    const form = page.getByRole("form", { name: "Set a limit override" });
    await form.getByLabel("Metric").selectOption("members");
    await form.getByLabel("Kind").selectOption("hard");
    await form.getByLabel("Limit").fill(String(limit));
    await form.getByLabel("Note").fill("e2e pilot seats");
    await form.getByRole("button", { name: "Set override" }).click();
    await expect(members.getByTestId("usage-limit")).toHaveText(String(limit));
    await expect(members.getByText("override", { exact: true })).toBeVisible();
    await expect(members).toContainText("Override: e2e pilot seats");
    await expect(page.getByRole("table", { name: "Active overrides" })).toContainText("e2e pilot seats");

    // The product app's view through an API key answers with the new limit.
    const created = await trpc(page, "mutation", "billing.apiKeys.create", {
      name: `e2e override ${Date.now()}`,
      scopes: ["entitlements:read"],
    });
    expect(created.status).toBe(200);
    const secret = String(created.data?.secret);
    const check = await trpc(
      page,
      "query",
      "billing.entitlements.check",
      { orgId: overridden.id, action: "member.add" },
      { authorization: `Bearer ${secret}` },
    );
    expect(check.status).toBe(200);
    expect(check.data).toMatchObject({ allowed: true, metric: "members", limit: String(limit), used: String(used) });

    // Revoking it restores the plan's limit.
    await page.getByRole("button", { name: "Revoke the members override" }).click();
    await expect(members.getByTestId("usage-limit")).not.toHaveText(String(limit));
    const after = await trpc(
      page,
      "query",
      "billing.entitlements.check",
      { orgId: overridden.id, action: "member.add" },
      { authorization: `Bearer ${secret}` },
    );
    expect(after.data?.limit).not.toBe(String(limit));
  });
});

test.describe("admin: alert thresholds", () => {
  test.use({ storageState: storageStateOf("admin") });

  test("an admin adds an org threshold beside the plan's defaults, a duplicate is refused, and removes it", async ({ page }) => {
    await page.goto(`/organizations/${alerted.id}`);
    const section = page.getByRole("region", { name: "Alert thresholds" });
    // The plan's percents: one row per metric of the catalogue (plus the heading row).
    await expect(section.getByRole("table", { name: "Plan alert thresholds" }).getByRole("row")).toHaveCount(METRICS.length + 1);
    await expect(section.getByText("No thresholds of its own.")).toBeVisible();

    const form = section.getByRole("form", { name: "Add an alert threshold" });
    await form.getByLabel("Metric").selectOption("exports");
    await form.getByLabel("Kind").selectOption("absolute");
    await form.getByLabel("Count").fill("7");
    await form.getByRole("button", { name: "Add threshold" }).click();
    await expect(section.getByRole("status")).toHaveText("Threshold added on exports.");
    const own = section.getByRole("table", { name: "Organization alert thresholds" });
    const row = own.getByRole("row").filter({ hasText: "at 7" });
    await expect(row).toContainText("Exports");
    await expect(row).toContainText(`staff:${E2E_STAFF.admin.email}`);

    // The same threshold again: the typed CONFLICT is shown, and still one row.
    await form.getByRole("button", { name: "Add threshold" }).click();
    await expect(section.getByRole("alert")).toContainText("already has");
    await expect(own.getByRole("row").filter({ hasText: "at 7" })).toHaveCount(1);

    await section.getByRole("button", { name: "Remove the threshold Exports at 7" }).click();
    await expect(section.getByText("No thresholds of its own.")).toBeVisible();
  });
});

test.describe("admin: denials", () => {
  test.use({ storageState: storageStateOf("admin") });

  test("a denied consume shows in the org's recent denials and on the overview", async ({ page }) => {
    await page.goto(`/organizations/${denied.id}`);
    const used = await numberIn(page, "Members", "usage-used");
    // A hard limit at the current count: the next member.add is denied.
    const set = await trpc(page, "mutation", "billing.overrides.set", {
      orgId: denied.id,
      metric: "members",
      kind: "hard",
      value: used,
      note: "e2e: full",
    });
    expect(set.status).toBe(200);
    const created = await trpc(page, "mutation", "billing.apiKeys.create", {
      name: `e2e denial ${Date.now()}`,
      scopes: ["entitlements:read", "usage:write"],
    });
    const auth = { authorization: `Bearer ${String(created.data?.secret)}` };
    const consume = await trpc(
      page,
      "mutation",
      "billing.entitlements.consume",
      { orgId: denied.id, action: "member.add", idempotencyKey: `e2e-${Date.now()}` },
      auth,
    );
    expect(consume.status).toBe(200);
    expect(consume.data).toMatchObject({ allowed: false, reason: { code: "limit_exceeded" } });

    await page.reload();
    const denials = page.getByRole("table", { name: "Recent denials" });
    await expect(denials.getByRole("row").filter({ hasText: "member.add" })).toHaveCount(1);
    await expect(denials).toContainText("limit_exceeded");

    await page.goto("/");
    const recent = page.getByRole("table", { name: "Recent denials" });
    await recent.getByRole("link", { name: denied.name }).first().click();
    await expect(page).toHaveURL(new RegExp(`/organizations/${denied.id}$`));
  });
});

test.describe("viewer", () => {
  test.use({ storageState: storageStateOf("viewer") });

  test("sees the organization but no adjust or override controls, and the server refuses them", async ({ page }) => {
    await page.goto(`/organizations/${viewed.id}`);
    await expect(page.getByRole("heading", { level: 1, name: viewed.name })).toBeVisible();
    await expect(card(page, "Members")).toBeVisible();
    await expect(page.getByRole("heading", { name: "Ledger history" })).toBeVisible();
    await expect(page.getByRole("heading", { name: "Recent denials" })).toBeVisible();
    await expect(page.getByRole("heading", { name: "Admin actions" })).toHaveCount(0);
    await expect(page.getByRole("form", { name: "Manual adjustment" })).toHaveCount(0);
    await expect(page.getByRole("form", { name: "Set a limit override" })).toHaveCount(0);
    await expect(page.getByRole("region", { name: "Alert thresholds" })).toBeVisible();
    await expect(page.getByRole("form", { name: "Add an alert threshold" })).toHaveCount(0);

    const adjust = await trpc(page, "mutation", "billing.orgs.adjust", {
      orgId: viewed.id,
      metric: "members",
      amount: 1,
      note: "should be refused",
      idempotencyKey: "3b241101-e2bb-4255-8caf-4136c566a962",
    });
    expect(adjust).toMatchObject({ status: 403, code: "FORBIDDEN" });
  });

  test("shows every metric of the catalogue by its label, and each period metric's window and reset", async ({ page }) => {
    const before = new Date();
    await page.goto(`/organizations/${free.id}`);
    await expect(page.getByRole("heading", { level: 1, name: free.name })).toBeVisible();
    const after = new Date();
    for (const metric of METRICS) {
      const definition = METRIC_DEFINITIONS[metric];
      const usage = card(page, definition.label);
      await expect(usage).toBeVisible();
      await expect(page.getByRole("figure", { name: new RegExp(`^${definition.label} over the last`) })).toBeVisible();
      const window = usage.getByTestId("usage-window");
      if (definition.kind === "gauge") {
        await expect(window).toHaveCount(0);
        continue;
      }
      // The window the server computed at render time: the one at `before` or at `after`
      // (a short window may have turned over in between).
      const text = (await window.textContent()) ?? "";
      const expected = [before, after].map((at) => {
        const w = currentWindow(metric, null, at);
        return `Window ${formatUtc(w!.start)} → ${formatUtc(w!.end)} UTC`;
      });
      expect(
        expected.some((prefix) => text.startsWith(prefix)),
        `${text} starts with one of ${expected.join(" | ")}`,
      ).toBe(true);
      await expect(usage.getByTestId("usage-resets")).toHaveText(
        /^resets in (\d+ days|1 day( \d+ h)?|\d+ h( \d+ min)?|\d+ min|less than a minute)$/,
      );
    }
  });

  test("an unknown organization says so", async ({ page }) => {
    await page.goto("/organizations/00000000-0000-4000-8000-000000000000");
    await expect(page.getByRole("heading", { level: 1, name: "Organization not found" })).toBeVisible();
    await page.goto("/organizations/not-a-uuid");
    await expect(page.getByRole("heading", { level: 1, name: "Organization not found" })).toBeVisible();
  });
});

test.describe("near-limit links and sort", () => {
  test.use({ storageState: storageStateOf("viewer") });

  test("the overview links to the near-limit list; the list sorts by members, URL-carried", async ({ page }) => {
    await page.goto("/");
    await page.getByRole("region", { name: "At ≥ 80 % of a limit" }).getByRole("link").click();
    await expect(page).toHaveURL(/\/organizations\?near=80$/);
    await expect(page.getByLabel("Usage")).toHaveValue("80");

    await page.goto("/organizations");
    await page.getByLabel("Sort by").selectOption("members");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page).toHaveURL(/[?&]sort=members\b/);
    const rows = page.getByRole("table").getByRole("rowgroup").nth(1).getByRole("row");
    await expect(rows).toHaveCount(25);
    const members = (await rows.locator("td:nth-of-type(4)").allTextContents()).map((t) => Number(t.replace(/,/g, "")));
    expect(members.every((n) => Number.isFinite(n))).toBe(true);
    expect(members).toEqual([...members].sort((a, b) => b - a));
  });
});
