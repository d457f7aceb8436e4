import { expect, test, type Page } from "@playwright/test";

import { storageStateOf } from "./staff";

const nav = (page: Page) => page.getByRole("navigation", { name: "Main" });

test.describe("audit log as admin", () => {
  test.use({ storageState: storageStateOf("admin") });

  test("a staff write appears with who, what and after; filters narrow it", async ({ page }) => {
    const name = `audit-e2e-${Date.now()}`;
    const response = await page.request.post("/api/trpc/billing.apiKeys.create", {
      data: { json: { name, scopes: ["usage:read"] } },
    });
    expect(response.status()).toBe(200);

    await page.goto("/");
    await nav(page).getByRole("link", { name: "Audit log" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Audit log" })).toBeVisible();
    const row = page.getByRole("row").filter({ hasText: name });
    await expect(row).toContainText("staff:admin@e2e.test");
    await expect(row).toContainText("api_key.create");

    await page.getByLabel("Action").fill("api_key.create");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(/action=api_key\.create/);
    const actions = await page.locator("tbody tr td:nth-child(3)").allTextContents();
    expect(actions.length).toBeGreaterThan(0);
    expect(new Set(actions)).toEqual(new Set(["api_key.create"]));
  });
});

test.describe("audit log as viewer", () => {
  test.use({ storageState: storageStateOf("viewer") });

  test("is not in the navigation and says it is for admins", async ({ page }) => {
    await page.goto("/");
    await expect(nav(page).getByRole("link", { name: "Audit log" })).toHaveCount(0);
    await page.goto("/audit");
    await expect(page.getByText("Admins only")).toBeVisible();
    await expect(page.getByRole("table")).toHaveCount(0);
  });
});
