import { expect, test, type Page } from "@playwright/test";

import { E2E_STAFF, storageStateOf } from "./staff";

const nav = (page: Page) => page.getByRole("navigation", { name: "Main" });

/** A tRPC mutation over HTTP as the page's signed-in user (superjson body `{ json }`). */
async function mutate(page: Page, path: string, input: unknown) {
  const response = await page.request.post(`/api/trpc/${path}`, { data: { json: input } });
  const body = (await response.json()) as { error?: { json?: { data?: { code?: string } } } };
  return { status: response.status(), code: body.error?.json?.data?.code ?? null };
}

test.describe("signed out", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("sign-in: redirect, wrong password, success back where they were going, sign-out", async ({ page }) => {
    const user = E2E_STAFF.finance;
    await page.goto("/organizations?page=2");
    await expect(page).toHaveURL(/\/sign-in\?next=%2Forganizations%3Fpage%3D2$/);
    await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
    await expect(page.getByRole("navigation", { name: "Main" })).toHaveCount(0);

    await page.getByLabel("Email").fill(user.email);
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("form", { name: "Sign in" }).getByRole("alert")).toHaveText("Wrong email or password.");
    await expect(page).toHaveURL(/\/sign-in/);

    await page.getByLabel("Password").fill(user.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/organizations\?page=2$/);
    await expect(page.getByRole("heading", { level: 1, name: "Organizations" })).toBeVisible();
    await expect(page.getByTestId("signed-in-email")).toHaveText(user.email);
    await expect(page.getByTestId("signed-in-role")).toHaveText("finance");
    const cookie = (await page.context().cookies()).find((c) => c.name.endsWith("billing.session_token"));
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax" });

    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/sign-in$/);
    await page.goto("/");
    await expect(page).toHaveURL(/\/sign-in$/);
  });

  test("the API refuses anonymous staff calls with UNAUTHORIZED", async ({ page }) => {
    await page.goto("/sign-in");
    expect(await mutate(page, "billing.apiKeys.create", { name: "anon", scopes: ["usage:read"] })).toEqual({
      status: 401,
      code: "UNAUTHORIZED",
    });
    const list = await page.request.get(`/api/trpc/billing.orgs.list?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`);
    expect(list.status()).toBe(401);
  });
});

test.describe("viewer", () => {
  test.use({ storageState: storageStateOf("viewer") });

  test("sees no admin actions and gets FORBIDDEN calling them over HTTP", async ({ page }) => {
    await page.goto("/");
    await expect(page.getByTestId("signed-in-role")).toHaveText("viewer");
    await expect(nav(page).getByRole("link", { name: "Organizations" })).toBeVisible();
    await expect(nav(page).getByRole("link", { name: "API keys" })).toHaveCount(0);

    await page.goto("/api-keys");
    await expect(page.getByText("Admins only.")).toBeVisible();
    await expect(page.getByRole("button", { name: "Create key" })).toHaveCount(0);

    expect(await mutate(page, "billing.apiKeys.create", { name: "sneaky", scopes: ["usage:read"] })).toEqual({
      status: 403,
      code: "FORBIDDEN",
    });
    expect(await mutate(page, "billing.staff.create", { email: "x@e2e.test", role: "admin" })).toEqual({ status: 403, code: "FORBIDDEN" });
  });
});

test.describe("finance", () => {
  test.use({ storageState: storageStateOf("finance") });

  test("reads the dashboard but has no API keys link", async ({ page }) => {
    await page.goto("/organizations");
    await expect(page.getByTestId("signed-in-role")).toHaveText("finance");
    await expect(nav(page).getByRole("link", { name: "API keys" })).toHaveCount(0);
    expect(await mutate(page, "billing.apiKeys.revoke", { id: "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a" })).toEqual({
      status: 403,
      code: "FORBIDDEN",
    });
  });
});

test.describe("admin", () => {
  test.use({ storageState: storageStateOf("admin") });

  test("creates an API key, sees its secret once, then revokes it", async ({ page }) => {
    await page.goto("/");
    await nav(page).getByRole("link", { name: "API keys" }).click();
    await expect(page).toHaveURL(/\/api-keys$/);
    await expect(page.getByRole("heading", { level: 1, name: "API keys" })).toBeVisible();

    const name = `e2e key ${Date.now()}`;
    await page.getByLabel("Name").fill(name);
    await page.getByLabel("usage:write").uncheck();
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = page.getByTestId("new-api-key-secret");
    await expect(secret).toHaveText(/^bk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    const secretText = (await secret.textContent()) ?? "";
    const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name, exact: true }) });
    await expect(row).toContainText("usage:read, entitlements:read");
    await expect(row).toContainText("never");
    await expect(row).toContainText("Active");

    // The key works for the product app…
    const usage = await page.request.get(
      `/api/trpc/billing.usage.get?input=${encodeURIComponent(JSON.stringify({ json: { orgId: "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a" } }))}`,
      {
        headers: { authorization: `Bearer ${secretText}` },
      },
    );
    expect(usage.status()).toBe(404); // authenticated; the org does not exist

    // …and its secret is never shown again.
    await page.reload();
    await expect(row).toBeVisible();
    await expect(page.getByTestId("new-api-key-secret")).toHaveCount(0);
    expect(await page.content()).not.toContain(secretText);

    page.once("dialog", (dialog) => void dialog.accept());
    await row.getByRole("button", { name: `Revoke ${name}` }).click();
    await expect(row).toContainText("Revoked");
    await expect(row.getByRole("button", { name: /Revoke/ })).toHaveCount(0);
    const after = await page.request.get(
      `/api/trpc/billing.usage.get?input=${encodeURIComponent(JSON.stringify({ json: { orgId: "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a" } }))}`,
      {
        headers: { authorization: `Bearer ${secretText}` },
      },
    );
    expect(after.status()).toBe(401);
  });
});
