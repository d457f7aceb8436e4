import { expect, test } from "@playwright/test";

// The test gate's own fixture (scripts/gate-selfcheck.ts copies it into e2e/ under a
// temporary name and runs it through the real Playwright config and web server): one spec
// that passes in a real browser and one that must fail there.
test.use({ storageState: { cookies: [], origins: [] } });

test("gate fixture: the sign-in page shows its form", async ({ page }) => {
  await page.goto("/sign-in");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

test("gate fixture: fails on purpose", async ({ page }) => {
  await page.goto("/sign-in");
  await expect(page.getByText("This text is on no page of the dashboard")).toBeVisible({ timeout: 1_000 });
});
