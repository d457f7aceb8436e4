import { expect, test, type Page } from "@playwright/test";

import { startFakeDodo, subscriptionPayload, webhookPayload } from "../tools/fake-dodo";
import { E2E_FAILED_WEBHOOK_ID, E2E_WEBHOOK_ORGS, E2E_WEBHOOK_SECRET, seededOrgs } from "./fixtures";
import { E2E_STAFF, storageStateOf } from "./staff";

const orgs = seededOrgs();
const planChange = orgs[E2E_WEBHOOK_ORGS.planChange];
const failedRenewal = orgs[E2E_WEBHOOK_ORGS.failedRenewal];
if (!planChange?.subscription || !failedRenewal?.subscription)
  throw new Error("the e2e data set has no subscribed orgs at the webhook indices");

const panel = (page: Page) => page.getByRole("region", { name: "Subscription", exact: true });

// Runs first (tests of a file run in order): the failed delivery is still failed here.
test.describe("viewer", () => {
  test.use({ storageState: storageStateOf("viewer") });

  test("reads webhooks and usage reporting but has no Replay, and the API refuses a replay", async ({ page }) => {
    await page.goto("/");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Webhooks" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Webhooks" })).toBeVisible();
    await expect(page.getByRole("table", { name: "Webhook events" })).toBeVisible();

    await page.goto(`/webhooks/${E2E_FAILED_WEBHOOK_ID}`);
    await expect(page.getByTestId("webhook-status")).toHaveText("Failed");
    await expect(page.getByRole("button", { name: "Replay" })).toHaveCount(0);
    await expect(page.getByText("An admin can replay this event")).toBeVisible();
    const replay = await page.request.post("/api/trpc/billing.dodo.webhooks.replay", { data: { json: { id: E2E_FAILED_WEBHOOK_ID } } });
    expect(replay.status()).toBe(403);
    await page.reload();
    await expect(page.getByTestId("webhook-status")).toHaveText("Failed");
    await expect(page.getByTestId("webhook-attempts")).toHaveText("1");

    await page.goto("/webhooks");
    await page.getByRole("link", { name: "Usage reporting status →" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Usage reporting" })).toBeVisible();
    for (const label of ["Pending", "Sent", "Failed", "Expired"]) {
      await expect(page.getByRole("region", { name: label, exact: true })).toBeVisible();
    }

    // No admin action on the organization page either.
    await page.goto(`/organizations/${planChange.id}`);
    await expect(panel(page)).toBeVisible();
    await expect(panel(page).getByRole("button", { name: "Resync from Dodo" })).toHaveCount(0);
  });
});

test.describe("admin", () => {
  test.use({ storageState: storageStateOf("admin") });

  test("a signed webhook sent by the fake Dodo changes the plan shown on the organization page", async ({ page, baseURL }) => {
    const sub = planChange.subscription!;
    await page.goto(`/organizations/${planChange.id}`);
    await expect(panel(page).getByTestId("subscription-plan")).toHaveText("Business");
    await expect(panel(page).getByTestId("subscription-id")).toHaveText(sub.id);

    const fake = await startFakeDodo({ webhook: { target: `${baseURL}/api/webhooks/dodo`, secret: E2E_WEBHOOK_SECRET } });
    try {
      // Dodo now has the subscription on Enterprise (same period: no renewal).
      fake.putSubscription({
        subscription_id: sub.id,
        product_id: "pdt_billing_enterprise",
        status: "active",
        orgId: planChange.id,
        periodStart: new Date(sub.periodStart),
        periodEnd: new Date(sub.periodEnd),
      });
      // A delivery signed with another key is refused and changes nothing.
      const forged = await fake
        .sender()
        .send(
          webhookPayload(
            "subscription.plan_changed",
            subscriptionPayload({ subscription_id: sub.id, orgId: planChange.id, product_id: "pdt_billing_pro" }),
          ),
          {
            badSignature: true,
          },
        );
      expect(forged.status).toBe(401);

      const delivery = await fake.sendSubscriptionEvent(sub.id, "subscription.plan_changed");
      expect(delivery.status).toBe(200);
      expect(JSON.parse(delivery.body)).toMatchObject({ status: "processed", duplicate: false });

      await page.reload();
      await expect(panel(page).getByTestId("subscription-plan")).toHaveText("Enterprise");
      await expect(panel(page).getByTestId("subscription-status")).toHaveText("Active");
      await expect(panel(page).getByTestId("subscription-last-event-id")).toHaveText(delivery.webhookId);
      // The header's plan is the policy's: Enterprise now too.
      await expect(page.locator('dl[aria-label="Organization"] .plan')).toHaveText("Enterprise");

      // The delivery is on the Webhooks page, processed, and links back to the org.
      await panel(page).getByRole("link", { name: delivery.webhookId }).click();
      await expect(page).toHaveURL(new RegExp(`/webhooks/${delivery.webhookId}$`));
      await expect(page.getByTestId("webhook-status")).toHaveText("Processed");
      await expect(page.getByTestId("webhook-outcome")).toHaveText("updated");
      await expect(page.getByLabel("Payload JSON")).toContainText('"product_id": "pdt_billing_enterprise"');
      await expect(page.getByRole("button", { name: "Replay" })).toHaveCount(0);
      await page.getByRole("link", { name: planChange.name }).click();
      await expect(page).toHaveURL(new RegExp(`/organizations/${planChange.id}$`));

      // This server has no Dodo API key: the resync says so (a typed error, not a 500).
      await panel(page).getByRole("button", { name: "Resync from Dodo" }).click();
      await expect(panel(page).getByRole("alert")).toHaveText("DODO_PAYMENTS_API_KEY is not set");
    } finally {
      await fake.close();
    }
  });

  test("a failed delivery is replayed from the Webhooks page and becomes processed", async ({ page }) => {
    await page.goto("/");
    const failures = page.getByRole("region", { name: "Webhook failures" });
    await expect(failures).toBeVisible();
    await failures.getByRole("link").click();
    await expect(page).toHaveURL(/\/webhooks\?status=failed(,|%2C)needs_attention$/);
    await expect(page.getByRole("search", { name: "Webhook filters" }).getByLabel("Status")).toHaveValue("failed,needs_attention");

    const row = page.getByRole("table", { name: "Webhook events" }).getByRole("row").filter({ hasText: E2E_FAILED_WEBHOOK_ID });
    await expect(row).toContainText("subscription.renewed");
    await expect(row).toContainText("Failed");
    await expect(row).toContainText("simulated outage");
    await row.getByRole("link", { name: E2E_FAILED_WEBHOOK_ID }).click();

    await expect(page).toHaveURL(new RegExp(`/webhooks/${E2E_FAILED_WEBHOOK_ID}$`));
    await expect(page.getByTestId("webhook-status")).toHaveText("Failed");
    await expect(page.getByTestId("webhook-attempts")).toHaveText("1");
    await expect(page.getByTestId("webhook-error")).toContainText("simulated outage");
    await expect(page.getByLabel("Payload JSON")).toContainText(failedRenewal.subscription!.id);

    await page.getByRole("button", { name: "Replay" }).click();
    await expect(page.getByRole("status")).toContainText("Replayed: processed");
    await expect(page.getByTestId("webhook-status")).toHaveText("Processed");
    await expect(page.getByTestId("webhook-attempts")).toHaveText("2");
    await expect(page.getByTestId("webhook-outcome")).toContainText("period counters reset");
    await expect(page.getByTestId("webhook-error")).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Replay" })).toHaveCount(0);
    await expect(page.getByRole("link", { name: failedRenewal.name })).toBeVisible();

    // Once: a second replay over the API does nothing.
    const again = await page.request.post("/api/trpc/billing.dodo.webhooks.replay", { data: { json: { id: E2E_FAILED_WEBHOOK_ID } } });
    expect(again.status()).toBe(200);
    expect(((await again.json()) as { result: { data: { json: { result: unknown } } } }).result.data.json.result).toMatchObject({
      duplicate: true,
      status: "processed",
    });

    // It left the failures list, and the audit log has the replay.
    await page.goto("/webhooks?status=failed,needs_attention");
    await expect(page.getByRole("row").filter({ hasText: E2E_FAILED_WEBHOOK_ID })).toHaveCount(0);
    await page.goto("/audit?action=webhook_event.replay");
    const audit = page.getByRole("row").filter({ hasText: E2E_FAILED_WEBHOOK_ID });
    await expect(audit).toHaveCount(1);
    await expect(audit).toContainText(`staff:${E2E_STAFF.admin.email}`);
    await expect(audit).toContainText('"status":"processed"');
  });
});
