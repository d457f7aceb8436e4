import { readFile } from "node:fs/promises";

import { expect, test, type Page } from "@playwright/test";
import { parse } from "csv-parse/sync";

import { formatSignedQuantity, metricLabel } from "@/app/_lib/metric-display";

import { seededOrgs } from "./fixtures";
import { storageStateOf } from "./staff";

const org = seededOrgs()[55];
if (!org) throw new Error("the e2e data set is too small");

const entryRows = (page: Page) => page.getByRole("region", { name: "Entries" }).getByRole("rowgroup").nth(1).getByRole("row");

test.describe("finance", () => {
  test.use({ storageState: storageStateOf("finance") });

  test("filters by org and reason, downloads the CSV, and its rows are the filtered ledger", async ({ page }) => {
    await page.goto("/ledger");
    const filters = page.getByRole("search", { name: "Ledger filters" });
    await filters.getByLabel("Organization id").fill(org.id);
    await filters.getByLabel("Reason").fill("seed");
    await filters.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(new RegExp(`org=${org.id}.*reason=seed|reason=seed.*org=${org.id}`));
    await expect(entryRows(page)).toHaveCount(org.ledger.length);

    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: /Download CSV/ }).click()]);
    const path = await download.path();
    const records = parse(await readFile(path, "utf8"), { columns: true }) as Record<string, string>[];

    // The same filter through the API, newest first; the CSV is oldest first.
    const input = encodeURIComponent(JSON.stringify({ json: { filter: { orgId: org.id, reason: "seed" }, limit: 200 } }));
    const listed = (await (await page.request.get(`/api/trpc/billing.ledger.list?input=${input}`)).json()) as {
      result: { data: { json: { items: { id: string }[] } } };
    };
    const ids = listed.result.data.json.items.map((e) => e.id);
    expect(ids).toHaveLength(org.ledger.length);
    expect(records.map((r) => r.id)).toEqual([...ids].reverse());
    expect(records.every((r) => r.org_id === org.id && r.reason === "seed" && r.org_name === org.name)).toBe(true);
    expect(records.map((r) => r.id).sort()).toEqual(org.ledger.map((e) => e.id).sort());
  });
});

test.describe("viewer", () => {
  test.use({ storageState: storageStateOf("viewer") });

  test("totals one row per metric and reason, each sum in its metric's unit", async ({ page }) => {
    await page.goto(`/ledger?org=${org.id}&reason=seed`);
    const totals = page.getByRole("region", { name: "Totals per metric and reason" }).getByRole("rowgroup").nth(1).getByRole("row");
    const expected = new Map<string, { entries: number; sum: bigint }>();
    for (const { metric, delta } of org.ledger) {
      const total = expected.get(metric) ?? { entries: 0, sum: 0n };
      expected.set(metric, { entries: total.entries + 1, sum: total.sum + delta });
    }
    await expect(totals).toHaveCount(expected.size);
    for (const [metric, { entries, sum }] of expected) {
      const row = totals.filter({ has: page.locator(`[data-metric="${metric}"]`) });
      await expect(row.getByRole("cell")).toHaveText([metricLabel(metric), "seed", String(entries), formatSignedQuantity(metric, sum)]);
    }
  });

  test("pages to older entries by keyset and back to the newest", async ({ page }) => {
    await page.goto("/ledger");
    await expect(entryRows(page)).toHaveCount(50);
    const firstPage = await entryRows(page)
      .locator("time")
      .evaluateAll((els) => els.map((e) => e.getAttribute("datetime") ?? ""));
    await page.getByRole("link", { name: "Older entries →" }).click();
    await expect(page).toHaveURL(/[?&]after=/);
    await expect(entryRows(page).first()).toBeVisible();
    const secondPage = await entryRows(page)
      .locator("time")
      .evaluateAll((els) => els.map((e) => e.getAttribute("datetime") ?? ""));
    expect(secondPage.length).toBeGreaterThan(0);
    // Newest first across pages: nothing on page 2 is newer than the end of page 1.
    expect(secondPage[0]! <= firstPage.at(-1)!).toBe(true);
    await page.getByRole("link", { name: "Newest" }).click();
    await expect(page).not.toHaveURL(/after=/);
    await expect(entryRows(page)).toHaveCount(50);
  });
});
