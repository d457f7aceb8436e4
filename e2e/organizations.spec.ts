import { expect, test, type Page } from "@playwright/test";

import { METRIC_DEFINITIONS, METRICS } from "@/server/billing/metrics";

import { E2E_ORGS, planIdOf, seededOrgs } from "./fixtures";
import { storageStateOf } from "./staff";

// Signed in as a viewer (the session e2e/auth.setup.ts saved): every page here is read-only.
test.use({ storageState: storageStateOf("viewer") });

const PAGE_SIZE = 25;
const orgs = seededOrgs();
const totalPages = Math.ceil(E2E_ORGS / PAGE_SIZE);

/** Body rows of the organizations table (the header row is in the first row group). */
const bodyRows = (page: Page) => page.getByRole("table").getByRole("rowgroup").nth(1).getByRole("row");

/** Orgs the list should show for a search term: name or slug contains it, case-insensitively. */
function matching(term: string) {
  const needle = term.toLowerCase();
  return orgs.filter((o) => o.name.toLowerCase().includes(needle) || o.slug.toLowerCase().includes(needle));
}

test("overview shows the navigation and real numbers", async ({ page }) => {
  await page.goto("/");

  await expect(page).toHaveTitle("Ledger & Policy billing");
  await expect(page.getByText("Ledger & Policy billing", { exact: true })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const label of ["Overview", "Organizations", "Ledger", "Backfill", "Webhooks"]) {
    await expect(nav.getByRole("link", { name: label, exact: true })).toBeVisible();
  }
  await expect(nav.getByRole("link", { name: "Overview" })).toHaveAttribute("aria-current", "page");
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();

  await expect(page.getByRole("region", { name: "Organizations" })).toContainText(String(E2E_ORGS));
  const active = orgs.filter((o) => o.subscription?.status === "active").length;
  await expect(page.getByRole("region", { name: "Active subscriptions" })).toContainText(String(active));
  // The seed writes ledger and cache together, so every count matches its ledger.
  await expect(page.getByRole("region", { name: "Usage integrity" })).toContainText("OK");
  await expect(page.getByRole("region", { name: "At ≥ 80 % of a limit" }).getByRole("link")).toHaveAttribute(
    "href",
    "/organizations?near=80",
  );
  await expect(page.getByRole("region", { name: "At or over a limit" }).getByRole("link")).toHaveAttribute(
    "href",
    "/organizations?near=100",
  );
  await expect(page.getByRole("heading", { level: 2, name: "Recent denials" })).toBeVisible();
});

test("organizations: pages, search, plan filter and empty state", async ({ page }) => {
  await page.goto("/");
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Organizations" }).click();

  await expect(page).toHaveURL(/\/organizations$/);
  await expect(page.getByRole("heading", { level: 1, name: "Organizations" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Organizations" })).toHaveAttribute("aria-current", "page");
  await expect(page.getByRole("columnheader", { name: "Members" })).toBeVisible();
  await expect(bodyRows(page)).toHaveCount(PAGE_SIZE);
  // Each row shows usage bars against the org's limits (members, teams and storage are
  // limited on every plan but enterprise, where some are unlimited and have no bar).
  const meters = page.getByRole("table").getByRole("meter");
  expect(await meters.count()).toBeGreaterThan(PAGE_SIZE);
  await expect(meters.first()).toHaveAttribute("aria-valuetext", / of /);
  const pagination = page.getByRole("navigation", { name: "Pagination" });
  await expect(pagination).toContainText(`Page 1 of ${totalPages} · ${E2E_ORGS} organizations`);

  // Next page: the URL carries it, the rows change.
  const firstOnPage1 = await bodyRows(page).first().getByRole("rowheader").textContent();
  await pagination.getByRole("link", { name: /Next/ }).click();
  await expect(page).toHaveURL(/[?&]page=2\b/);
  await expect(pagination).toContainText(`Page 2 of ${totalPages}`);
  await expect(bodyRows(page)).toHaveCount(Math.min(PAGE_SIZE, E2E_ORGS - PAGE_SIZE));
  await expect(bodyRows(page).first().getByRole("rowheader")).not.toHaveText(firstOnPage1 ?? "");
  await pagination.getByRole("link", { name: /Previous/ }).click();
  await expect(pagination).toContainText(`Page 1 of ${totalPages}`);

  // Search for an org we know the seed created, submitting with the keyboard.
  const known = orgs[7];
  if (!known) throw new Error("the e2e data set is too small");
  const expected = matching(known.name);
  const search = page.getByRole("searchbox", { name: "Search" });
  await search.fill(known.name);
  await search.press("Enter");
  await expect(page).toHaveURL(new RegExp(`[?&]search=${encodeURIComponent(known.name).replace(/%20/g, "(\\+|%20)")}`));
  await expect(bodyRows(page)).toHaveCount(expected.length);
  await expect(page.getByRole("rowheader", { name: known.name, exact: true }).first()).toBeVisible();
  for (const name of await bodyRows(page).getByRole("rowheader").allTextContents()) {
    expect(name.toLowerCase()).toContain(known.name.toLowerCase());
  }
  await expect(pagination).toContainText(`Page 1 of 1 · ${expected.length} organization`);

  // An exact id finds that one organization.
  await search.fill(known.id);
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(new RegExp(`[?&]search=${known.id}`));
  await expect(bodyRows(page)).toHaveCount(1);
  await expect(bodyRows(page).first().getByRole("rowheader")).toHaveText(known.name);

  // Filter by plan (and clear the search).
  const proCount = orgs.filter((o) => planIdOf(o) === "pro").length;
  expect(proCount).toBeGreaterThan(0);
  await page.getByRole("link", { name: "Clear filters" }).click();
  await expect(page).toHaveURL(/\/organizations$/);
  await page.getByLabel("Plan").selectOption({ label: "Pro" });
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/[?&]plan=pro\b/);
  await expect(pagination).toContainText(`${proCount} organization`);
  await expect(bodyRows(page)).toHaveCount(Math.min(PAGE_SIZE, proCount));
  // Columns after the row header: slug, plan, status, …
  for (const row of await bodyRows(page).all()) {
    await expect(row.getByRole("cell").nth(1)).toHaveText("Pro");
  }

  // A search nothing matches: the empty state, no table.
  await page.goto("/organizations?search=no-such-organization-zzz");
  await expect(page.getByRole("heading", { name: "No organizations found" })).toBeVisible();
  await expect(page.getByText("Nothing matches “no-such-organization-zzz”")).toBeVisible();
  await expect(page.getByRole("table")).toHaveCount(0);
});

test("organizations: one column and one sort per metric of the catalogue", async ({ page }) => {
  await page.goto("/organizations");
  const sort = page.getByLabel("Sort by");
  for (const metric of METRICS) {
    const { label } = METRIC_DEFINITIONS[metric];
    await expect(page.getByRole("columnheader", { name: label, exact: true })).toBeVisible();
    await expect(sort.locator(`option[value="${metric}"]`)).toHaveText(`${label} (most first)`);
  }
  // Sorting by the last metric of the catalogue: the URL carries it, the select keeps it.
  const last = METRICS[METRICS.length - 1]!;
  await sort.selectOption(last);
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(new RegExp(`[?&]sort=${last}\\b`));
  await expect(sort).toHaveValue(last);
  await expect(bodyRows(page)).toHaveCount(PAGE_SIZE);
});
