import { randomBytes } from "node:crypto";

import { expect, test, type Page } from "@playwright/test";

import { startReceiver, type Answer, type ReceivedRequest, type Receiver } from "../test/helpers/webhook-receiver";
import { storageStateOf } from "./staff";

/**
 * Outgoing events end to end: an admin adds a webhook endpoint in the dashboard, copies the
 * signing secret shown once, sends a test event, and the server's own deliverer (every second
 * and final on the first failure here, see playwright.config.ts) POSTs it, signed, to a real
 * receiver (the integration tests' own, test/helpers/webhook-receiver.ts); a delivery the
 * receiver refused is seen failed, then replayed and delivered.
 */

test.use({ storageState: storageStateOf("admin") });

/** A receiver of the test's own: 401 for a bad signature, else 500 while `refusing`, else 200. */
async function receiverFor(state: { refusing: boolean }): Promise<Receiver> {
  return startReceiver((request): Answer => (request.verifiedWith < 0 ? 401 : state.refusing ? 500 : 200));
}

let receivers: Receiver[] = [];
test.afterEach(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  receivers = [];
});

/**
 * Adds an endpoint for `receiver` in the UI (its URL made unique per run, so reruns never see
 * older rows), hands the shown-once secret to the receiver; returns the URL and endpoint id.
 */
async function addEndpoint(page: Page, receiver: Receiver): Promise<{ url: string; endpointId: string }> {
  receivers.push(receiver);
  const url = `${receiver.url}?e2e=${randomBytes(6).toString("hex")}`;
  await page.goto("/events");
  const form = page.getByRole("form", { name: "Add a webhook endpoint" });
  await form.getByLabel("URL").fill(url);
  await form.getByLabel("Description").fill(`e2e ${url}`);
  await form.getByRole("button", { name: "Add endpoint" }).click();

  const secret = (await page.getByTestId("endpoint-secret").textContent())?.trim() ?? "";
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
  receiver.secrets.push(secret);
  await page.getByRole("status", { name: "Signing secret" }).getByRole("button", { name: "Done" }).click();
  await expect(page.getByTestId("endpoint-secret")).toHaveCount(0);

  const link = page.getByRole("link", { name: url, exact: true });
  const endpointId = new URL((await link.getAttribute("href")) ?? "", "http://x").searchParams.get("endpoint") ?? "";
  expect(endpointId).toMatch(/^[0-9a-f-]{36}$/);
  return { url, endpointId };
}

/** Clicks "Send test" for the endpoint; returns the queued delivery's page. */
async function sendTest(page: Page, url: string): Promise<string> {
  await page.getByRole("button", { name: `Send a test event to ${url}` }).click();
  const link = page.getByRole("link", { name: "see its delivery" });
  await expect(link).toBeVisible();
  const href = (await link.getAttribute("href")) ?? "";
  expect(href).toMatch(/^\/events\/deliveries\/[0-9a-f-]{36}$/);
  return href;
}

/** A fact of the delivery page's list (`<dt>label</dt><dd>value</dd>`). */
const fact = (page: Page, label: string) => page.locator(`dl.facts dt:text-is("${label}") + dd`);

/** The endpoint's rows in the Events page's deliveries table. */
const deliveryRows = (page: Page) => page.getByRole("table", { name: "Deliveries" }).getByRole("row").filter({ hasText: "test.ping" });

const typeOf = (request: ReceivedRequest) => (JSON.parse(request.body) as { type?: string }).type;

/** The verified test pings `receiver` got, and what it answered. */
const pings = (receiver: Receiver) => receiver.received.filter((r) => r.verifiedWith >= 0 && typeOf(r) === "test.ping");

test("an admin adds an endpoint, sends a test event, and sees it delivered, correctly signed", async ({ page }) => {
  const receiver = await receiverFor({ refusing: false });
  const { url, endpointId } = await addEndpoint(page, receiver);
  const deliveryHref = await sendTest(page, url);

  // Delivered by the server's deliverer, signed with the secret the page showed once.
  await expect.poll(() => pings(receiver).map((r) => r.answer), { timeout: 60_000 }).toEqual([200]);
  expect(receiver.received.filter((r) => r.verifiedWith < 0)).toEqual([]);

  // The deliveries list (server-rendered: reload until the deliverer's record shows) says so.
  await page.goto(`/events?endpoint=${endpointId}`);
  await expect(async () => {
    await page.reload();
    await expect(deliveryRows(page)).toHaveCount(1);
    await expect(deliveryRows(page).getByRole("cell", { name: "delivered", exact: true })).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 60_000 });
  await expect(deliveryRows(page).getByRole("cell", { name: url, exact: true })).toBeVisible();

  // Its page names the webhook-id the receiver got.
  await page.goto(deliveryHref);
  await expect(fact(page, "Status")).toHaveText("delivered");
  await expect(fact(page, "Attempts")).toHaveText("1");
  await expect(fact(page, "Last answer")).toHaveText("200");
  await expect(fact(page, "webhook-id")).toHaveText(pings(receiver)[0]?.webhookId ?? "missing");
});

test("a delivery the receiver refused is shown failed, then replayed by the admin and delivered", async ({ page }) => {
  const state = { refusing: true };
  const receiver = await receiverFor(state);
  const { url, endpointId } = await addEndpoint(page, receiver);
  const deliveryHref = await sendTest(page, url);

  await expect.poll(() => pings(receiver).map((r) => r.answer), { timeout: 60_000 }).toEqual([500]);

  // The list: not delivered, one attempt, the receiver's 500.
  await page.goto(`/events?endpoint=${endpointId}`);
  await expect(async () => {
    await page.reload();
    await expect(deliveryRows(page).getByRole("cell", { name: "failed", exact: true })).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 60_000 });
  await expect(deliveryRows(page)).toHaveCount(1);
  const cells = deliveryRows(page).getByRole("cell");
  await expect(cells.nth(4)).toHaveText("1"); // Attempts
  await expect(cells.nth(5)).toHaveText("500"); // Last answer

  // Its page: the request, the answer's status and body, the attempt.
  await deliveryRows(page).getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`${deliveryHref}$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Delivery of test.ping");
  await expect(fact(page, "Status")).toHaveText("failed");
  await expect(fact(page, "Attempts")).toHaveText("1");
  await expect(fact(page, "Last answer")).toHaveText("500");
  const webhookId = pings(receiver)[0]?.webhookId ?? "missing";
  const refusal = `answer 500 to ${webhookId}`; // the receiver's body
  await expect(fact(page, "webhook-id")).toHaveText(webhookId);
  const requestBody = page.locator("pre.json");
  await expect(requestBody).toContainText(`"id": "${webhookId}"`);
  await expect(requestBody).toContainText(`"type": "test.ping"`);
  await expect(page.locator("h2:has-text('body (first 2 KB)') + pre")).toHaveText(refusal);
  const attempts = page.getByRole("table", { name: "Attempts" }).getByRole("row");
  await expect(attempts).toHaveCount(2); // the heading row and attempt 1
  await expect(attempts.nth(1)).toContainText("500");
  await expect(attempts.nth(1)).toContainText(refusal);

  // The receiver is back: the admin replays, the same webhook-id arrives and is delivered.
  state.refusing = false;
  await page.getByRole("button", { name: "Replay" }).click();
  await expect.poll(() => pings(receiver).map((r) => r.answer), { timeout: 60_000 }).toEqual([500, 200]);
  expect(new Set(pings(receiver).map((r) => r.webhookId))).toEqual(new Set([webhookId]));
  await expect(async () => {
    await page.reload();
    await expect(fact(page, "Status")).toHaveText("delivered", { timeout: 1_000 });
  }).toPass({ timeout: 60_000 });
  await expect(fact(page, "Attempts")).toHaveText("2");
  await expect(fact(page, "Last answer")).toHaveText("200");
  await expect(page.getByRole("table", { name: "Attempts" }).getByRole("row")).toHaveCount(3);
  await expect(page.getByRole("button", { name: "Replay" })).toBeVisible(); // delivered: replayable again
});
