import { expect, test as setup } from "@playwright/test";

import { STAFF_ROLES } from "@/server/auth/roles";

import { E2E_STAFF, storageStateOf } from "./staff";

// Signs each role in once through the real form and keeps its session cookie, so the specs
// start signed in as whichever role they declare (`test.use({ storageState })`).
for (const role of STAFF_ROLES) {
  setup(`sign in as ${role}`, async ({ page }) => {
    const user = E2E_STAFF[role];
    await page.goto("/sign-in");
    await page.getByLabel("Email").fill(user.email);
    await page.getByLabel("Password").fill(user.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect(page.getByTestId("signed-in-email")).toHaveText(user.email);
    await page.context().storageState({ path: storageStateOf(role) });
  });
}
