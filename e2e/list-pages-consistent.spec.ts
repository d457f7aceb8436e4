import { expect, test, type Locator, type Page, type TestInfo } from "@playwright/test";

import { seededOrgs } from "./fixtures";
import { storageStateOf } from "./staff";

/**
 * Keeps the list pages alike (issue 16): every table is the shared DataTable and every
 * filter form the shared FilterForm (each sets `data-ui`, nothing else does), and their
 * computed styles equal the Organizations page's — the reference — property by property.
 * Styles, not pixels: a screenshot of live data would differ run to run, so the full-page
 * screenshots taken here are only attached to the report, never compared.
 */

const REFERENCE = "/organizations";

/** What makes a table look like the others; colours of badges and cells that flag a value are the content's, not the table's. */
const STYLE_PROPERTIES = {
  frame: ["border-top-width", "border-top-style", "border-top-color", "border-top-left-radius", "background-color", "overflow-x"],
  table: ["border-collapse", "font-size", "width"],
  headCell: [
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "font-weight",
    "font-size",
    "text-transform",
    "letter-spacing",
    "color",
    "background-color",
    "border-bottom-width",
    "border-bottom-style",
    "border-bottom-color",
  ],
  bodyCell: ["padding-top", "padding-right", "padding-bottom", "padding-left", "font-size", "white-space"],
  submit: [
    "background-color",
    "color",
    "border-top-width",
    "border-top-style",
    "border-top-color",
    "border-top-left-radius",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "height",
    "font-weight",
    "font-size",
  ],
} as const;

type Styles = Record<string, string>;

async function computed(locator: Locator, properties: readonly string[]): Promise<Styles> {
  return locator.evaluate(
    (element, names) => Object.fromEntries(names.map((name) => [name, getComputedStyle(element).getPropertyValue(name)])),
    [...properties],
  );
}

/**
 * A table's look: its frame (the wrapping element), the table, a heading cell and a body
 * cell. The table-wide width is compared as "fills its frame" since pages differ in width.
 */
async function tableLook(table: Locator) {
  const frame = table.locator("xpath=..");
  const [frameStyles, tableStyles, headCell, bodyCell, fills] = await Promise.all([
    computed(frame, STYLE_PROPERTIES.frame),
    computed(
      table,
      STYLE_PROPERTIES.table.filter((p) => p !== "width"),
    ),
    computed(table.locator("thead th").first(), STYLE_PROPERTIES.headCell),
    computed(table.locator("tbody td").first(), STYLE_PROPERTIES.bodyCell),
    table.evaluate((el) => el.getBoundingClientRect().width >= (el.parentElement?.clientWidth ?? Infinity) - 1),
  ]);
  return { frame: frameStyles, table: tableStyles, headCell, bodyCell, fillsFrame: fills };
}

interface Reference {
  table: Awaited<ReturnType<typeof tableLook>>;
  submit: Styles;
}

async function readReference(page: Page): Promise<Reference> {
  await page.goto(REFERENCE);
  const table = page.locator('table[data-ui="data-table"]').first();
  await expect(table.locator("tbody tr").first()).toBeVisible();
  const submit = page.getByRole("search", { name: "Organization filters" }).locator('[data-ui="filter-submit"]');
  return { table: await tableLook(table), submit: await computed(submit, STYLE_PROPERTIES.submit) };
}

/**
 * On the current page: every table is a DataTable and every filter form a FilterForm with
 * its submit button, at least `minTables` tables have rows, and each looks like the reference.
 */
async function expectLikeReference(page: Page, reference: Reference, minTables: number) {
  const tables = page.locator("table");
  const shared = page.locator('table[data-ui="data-table"]');
  // Wait for rows (any table's), then count: a bare table fails below with its own message.
  if (minTables > 0) await expect(tables.locator("tbody tr").first()).toBeVisible();
  const count = await tables.count();
  expect(count, "tables on the page").toBeGreaterThanOrEqual(minTables);
  await expect(shared, "every table is the shared DataTable").toHaveCount(count);
  for (let i = 0; i < count; i++) {
    const table = shared.nth(i);
    if ((await table.locator("tbody td").count()) === 0) continue;
    const name = (await table.getAttribute("aria-label")) ?? `table ${i + 1}`;
    expect(await tableLook(table), `${name} looks like the reference table`).toEqual(reference.table);
  }

  const searches = page.getByRole("search");
  const forms = await searches.count();
  await expect(page.locator('form[data-ui="filter-form"]'), "every filter form is the shared FilterForm").toHaveCount(forms);
  for (let i = 0; i < forms; i++) {
    const submit = searches.nth(i).locator('button[type="submit"]');
    await expect(submit).toHaveCount(1);
    await expect(submit).toHaveAttribute("data-ui", "filter-submit");
    expect(await computed(submit, STYLE_PROPERTIES.submit), "the filter button looks like the reference's").toEqual(reference.submit);
  }
}

async function attachScreenshot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: "image/png" });
}

const orgWithHistory = seededOrgs().find((o) => o.ledger.length > 0);
if (!orgWithHistory) throw new Error("the e2e data set has no org with ledger rows");

/** Every list page, with how many tables with rows the e2e data set guarantees on it. */
const LIST_PAGES: { name: string; path: string; minTables: number; ready?: (page: Page) => Promise<void> }[] = [
  { name: "ledger", path: "/ledger", minTables: 2 },
  { name: "audit", path: "/audit", minTables: 1 },
  { name: "webhooks", path: "/webhooks", minTables: 1 },
  // Rows here and in the runs list exist only when other specs made them: checked when present.
  { name: "usage-reporting", path: "/webhooks/usage-reporting", minTables: 0 },
  { name: "backfill", path: "/backfill", minTables: 0 },
  // Deliveries exist only when a spec sent events; the endpoint list loads in the browser.
  { name: "events", path: "/events", minTables: 0 },
  {
    name: "api-keys",
    path: "/api-keys",
    minTables: 1,
    // The key list loads in the browser.
    ready: (page) => expect(page.getByRole("table", { name: "Keys" })).toBeVisible(),
  },
  { name: "organization", path: `/organizations/${orgWithHistory.id}`, minTables: 1 },
  { name: "overview", path: "/", minTables: 0 },
];

test.describe("list pages look alike", () => {
  // Admins see every page (audit log, API keys) and the "Reconcile all" panel.
  test.use({ storageState: storageStateOf("admin") });

  test("every table and filter form is the shared component, styled like the Organizations page's", async ({ page }, testInfo) => {
    // A staff write, so the audit log and the API key list have a row whichever spec ran first.
    const response = await page.request.post("/api/trpc/billing.apiKeys.create", {
      data: { json: { name: `list-pages-e2e-${Date.now()}`, scopes: ["usage:read"] } },
    });
    expect(response.status()).toBe(200);

    const reference = await readReference(page);
    expect(reference.table.table["border-collapse"]).toBe("collapse");
    expect(reference.table.headCell["font-weight"]).toBe("600");
    expect(reference.submit["background-color"]).not.toBe("rgba(0, 0, 0, 0)");
    await expectLikeReference(page, reference, 1);
    await attachScreenshot(page, testInfo, "organizations");

    for (const listPage of LIST_PAGES) {
      await test.step(listPage.name, async () => {
        await page.goto(listPage.path);
        await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
        await listPage.ready?.(page);
        await expectLikeReference(page, reference, listPage.minTables);
        await attachScreenshot(page, testInfo, listPage.name);
      });
    }

    await test.step("a backfill run's diff report, when a run exists", async () => {
      await page.goto("/backfill");
      const run = page.getByRole("table", { name: "Runs" }).getByRole("link").first();
      if ((await run.count()) === 0) return;
      await run.click();
      await expect(page.getByRole("search", { name: "Diff filters" })).toBeVisible();
      await expectLikeReference(page, reference, 0);
    });
  });

  test("the Webhooks page's 'Reconcile all' button keeps its distance from the status tabs", async ({ page }) => {
    await page.goto("/webhooks");
    const button = page.getByRole("button", { name: "Reconcile all subscriptions with Dodo" });
    const tabs = page.getByRole("navigation", { name: "Webhook statuses" });
    const [buttonBox, tabsBox] = await Promise.all([button.boundingBox(), tabs.boundingBox()]);
    expect(buttonBox && tabsBox).toBeTruthy();
    // The same gap as the other panels (1.5rem): at least 1rem, never touching.
    expect(tabsBox!.y - (buttonBox!.y + buttonBox!.height)).toBeGreaterThanOrEqual(16);
  });
});
