import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";

import { expect, test, type Page } from "@playwright/test";
import { parse } from "csv-parse/sync";

import { seededOrgs } from "./fixtures";
import { storageStateOf } from "./staff";

// An org no other spec touches (the specs share one database and run in parallel). Its
// ledger is made to disagree with its old count (COUNT of members) the way a wrong counter
// would: a manual adjustment of +3 members that no member row backs.
const drifted = seededOrgs()[57];
if (!drifted) throw new Error("the e2e data set is too small");
const EXTRA = 3;

const diffRows = (page: Page) => page.getByRole("table", { name: "Differences" }).getByRole("rowgroup").nth(1).getByRole("row");
const fact = (page: Page, testId: string) => page.getByRole("region", { name: /Progress/ }).getByTestId(testId);

/** Starts a run from the Backfill page and returns its id once its page is open. */
async function startRun(page: Page, button: "Start dry run" | "Start apply", fields: { prefix?: string; batchSize?: string }) {
  await page.goto("/backfill");
  const form = page.getByRole("form", { name: "Start a run" });
  if (fields.prefix !== undefined) await form.getByLabel("Org slug prefix (optional)").fill(fields.prefix);
  if (fields.batchSize !== undefined) await form.getByLabel("Batch size").fill(fields.batchSize);
  await form.getByRole("button", { name: button }).click();
  await expect(page).toHaveURL(/\/backfill\/[0-9a-f-]{36}$/);
  return new URL(page.url()).pathname.split("/").pop() as string;
}

/** Watches the live progress bar until the run has completed; returns the percentages seen. */
async function watchUntilCompleted(page: Page): Promise<number[]> {
  const bar = page.getByRole("progressbar", { name: "Run progress" });
  await expect(bar).toBeVisible();
  const seen: number[] = [];
  await expect(async () => {
    seen.push(Number(await bar.getAttribute("aria-valuenow")));
    await expect(page.getByRole("region", { name: /Progress/ }).getByTestId("run-state")).toHaveText("Completed", { timeout: 500 });
  }).toPass({ timeout: 90_000, intervals: [200] });
  await expect(bar).toHaveAttribute("aria-valuenow", "100");
  await expect(page.getByTestId("run-percent")).toHaveText("100%");
  return seen;
}

test.describe("admin", () => {
  test.use({ storageState: storageStateOf("admin") });

  test("starts a dry run, watches it, reads and filters the diff, downloads it, applies, and nothing remains", async ({ page }) => {
    // Two runs and a dozen pages: twice the suite's limit (it took 1.8 min at load average 40).
    test.setTimeout(240_000);
    const adjust = await page.request.post("/api/trpc/billing.orgs.adjust", {
      data: {
        json: {
          orgId: drifted.id,
          metric: "members",
          amount: String(EXTRA),
          note: "e2e: seats counted twice",
          idempotencyKey: randomUUID(),
        },
      },
    });
    expect(adjust.status()).toBe(200);

    // A dry run over every organization, one org per batch, so the bar moves in steps.
    const dryRunId = await startRun(page, "Start dry run", { batchSize: "1" });
    await expect(page.getByRole("heading", { level: 1 })).toContainText(`Dry run ${dryRunId}`);
    const seen = await watchUntilCompleted(page);
    expect(seen.every((p, i) => i === 0 || p >= seen[i - 1]!)).toBe(true);
    await expect(fact(page, "run-scanned")).toHaveText(/^(\d+) of \1$/);
    expect(Number(await fact(page, "run-mismatches").textContent())).toBeGreaterThanOrEqual(1);
    await expect(fact(page, "run-deltas")).toHaveText("0");
    await expect(fact(page, "run-rate")).toHaveText(/orgs\/s$/);

    // The diff report, filtered through the URL to the drifted org's ledger mismatch.
    const filters = page.getByRole("search", { name: "Diff filters" });
    await filters.getByLabel("Mismatch kind").selectOption("ledger_wrong");
    await filters.getByLabel("Organization").fill(drifted.slug);
    await filters.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(/kind=ledger_wrong/);
    await expect(page).toHaveURL(new RegExp(`org=${drifted.slug}`));
    await expect(diffRows(page)).toHaveCount(1);
    const row = diffRows(page).first();
    await expect(row).toContainText(drifted.slug);
    await expect(row).toContainText("members");
    await expect(row.getByRole("cell").nth(4)).toHaveText(String(drifted.totals.members));
    await expect(row.getByRole("cell").nth(6)).toHaveText(String(drifted.totals.members + EXTRA));
    // Other metrics of that org have no ledger mismatch.
    await filters.getByLabel("Metric").selectOption("teams");
    await filters.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(/metric=teams/);
    await expect(page.getByText("No rows match.")).toBeVisible();
    await filters.getByLabel("Metric").selectOption("");
    await filters.getByRole("button", { name: "Filter" }).click();
    await expect(diffRows(page)).toHaveCount(1);

    // The CSV is the filtered report.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download CSV (filtered)" }).click(),
    ]);
    const records = parse(await readFile(await download.path(), "utf8"), { columns: true }) as Record<string, string>[];
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      run_id: dryRunId,
      org_id: drifted.id,
      org_slug: drifted.slug,
      metric: "members",
      kind: "ledger_wrong",
      old_count: String(drifted.totals.members),
      ledger_before: String(drifted.totals.members + EXTRA),
      delta_applied: "0",
    });

    // Apply to that org only (other specs' orgs are theirs), and nothing remains.
    const applyId = await startRun(page, "Start apply", { prefix: drifted.slug });
    await watchUntilCompleted(page);
    await expect(fact(page, "run-remaining")).toHaveText("0");
    await expect(fact(page, "run-deltas")).toHaveText("1");
    // When the run ended the page re-rendered its report: the migration row's delta.
    await expect(diffRows(page)).toHaveCount(1);
    await expect(diffRows(page).first().getByRole("cell").nth(7)).toHaveText(`-${EXTRA}`);

    // Both runs are in the list, newest first.
    await page.getByRole("link", { name: "← Backfill runs" }).click();
    const links = page.getByRole("table", { name: "Runs" }).getByRole("link");
    await expect(links.first()).toHaveAccessibleName(`Apply run ${applyId}`);
    await expect(page.getByRole("link", { name: `Dry run ${dryRunId}` })).toBeVisible();

    // A dry run of that org now finds its ledger right.
    await startRun(page, "Start dry run", { prefix: drifted.slug });
    await watchUntilCompleted(page);
    await expect(fact(page, "run-mismatches")).toHaveText("0");
  });
});

test.describe("viewer", () => {
  test.use({ storageState: storageStateOf("viewer") });

  test("sees the runs and a run's report but no controls, and the server refuses a start", async ({ page, playwright, baseURL }) => {
    // A run to look at, started by an admin (over a prefix no organization has).
    const admin = await playwright.request.newContext({ baseURL, storageState: storageStateOf("admin") });
    const started = await admin.post("/api/trpc/billing.backfill.start", {
      data: { json: { mode: "dry_run", orgPrefix: `none-${randomUUID()}` } },
    });
    expect(started.status()).toBe(200);
    const runId = ((await started.json()) as { result: { data: { json: { id: string } } } }).result.data.json.id;
    await admin.dispose();

    await page.goto("/backfill");
    await expect(page.getByRole("heading", { level: 1, name: "Backfill" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Start dry run" })).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Start apply" })).toHaveCount(0);
    await expect(page.getByRole("form", { name: "Start a run" })).toHaveCount(0);

    const refused = await page.request.post("/api/trpc/billing.backfill.start", { data: { json: { mode: "dry_run" } } });
    expect(refused.status()).toBe(403);
    const cancel = await page.request.post("/api/trpc/billing.backfill.cancel", { data: { json: { runId } } });
    expect(cancel.status()).toBe(403);

    await page.getByRole("link", { name: `Dry run ${runId}` }).click();
    await expect(page.getByRole("progressbar", { name: "Run progress" })).toBeVisible();
    await expect(page.getByRole("region", { name: /Progress/ }).getByTestId("run-state")).toHaveText("Completed");
    await expect(page.getByRole("button", { name: /Cancel run|Resume run/ })).toHaveCount(0);
    // The CSV is for every member of staff.
    const csv = await page.request.get(`/api/backfill/${runId}/diffs`);
    expect(csv.status()).toBe(200);
    expect((await csv.text()).split("\r\n")[0]).toMatch(/^run_id,org_id,org_slug,metric,kind,/);
  });
});
