import { Webhook } from "standardwebhooks";

import { SeedError } from "../errors";
import type { DemoOrg } from "./orgs";
import type { PlannedWebhook } from "./subscription-story";

/**
 * The history's Dodo webhooks, delivered as Dodo delivers them: a JSON envelope signed with
 * Standard Webhooks, handed to the app's own webhook handler (`createWebhookHandler`), which
 * verifies the signature and runs the real inbox and subscription sync. Only the signature's
 * timestamp is the real clock (the handler refuses one more than five minutes off); the
 * event's own timestamp, which orders and dates everything it changes, is the history's.
 */

/**
 * The signing secret the demo uses when none is configured: `npm start` gives it to the
 * dashboard (on its embedded database) so `npm run fake-dodo` can sign with it too. Public on
 * purpose (it is in the README): never use it where anyone else can reach the webhook route.
 */
export const DEMO_WEBHOOK_KEY = "whsec_ZGVtby1kZW1vLWRlbW8tZGVtbw==";

export type WebhookRoute = (request: Request) => Promise<Response>;

/** The envelope Dodo sends for a subscription event (the fields billing reads, and a few more). */
export function webhookBody(org: DemoOrg, event: PlannedWebhook): string {
  const s = event.subscription;
  const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
  return JSON.stringify({
    business_id: "bus_demo",
    type: event.type,
    timestamp: iso(event.at),
    data: {
      payload_type: "Subscription",
      subscription_id: s.id,
      product_id: s.productId,
      status: s.status,
      quantity: 1,
      currency: "USD",
      payment_frequency_count: 1,
      payment_frequency_interval: "Month",
      customer: { customer_id: s.customerId, email: `billing@${org.slug}.example.com`, name: org.name, metadata: {} },
      metadata: { org_id: org.id },
      previous_billing_date: iso(s.periodStart),
      next_billing_date: iso(s.periodEnd),
      cancel_at_next_billing_date: s.status === "cancelled",
      cancelled_at: iso(s.cancelledAt),
      expires_at: iso(s.expiresAt),
    },
  });
}

export class SignedDelivery {
  private readonly signer: Webhook;

  constructor(key: string) {
    try {
      this.signer = new Webhook(key);
    } catch {
      throw new SeedError("the webhook key is not a usable Standard Webhooks secret (expected whsec_<base64>)");
    }
  }

  /**
   * Signs `event` and hands it to `route`; anything but a processed delivery stops the
   * history (a demo that silently lost a plan change would show the wrong plan).
   */
  async deliver(route: WebhookRoute, org: DemoOrg, event: PlannedWebhook): Promise<void> {
    const body = webhookBody(org, event);
    const signedAt = new Date();
    const request = new Request("http://demo.invalid/api/webhooks/dodo", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": event.webhookId,
        "webhook-timestamp": String(Math.floor(signedAt.getTime() / 1000)),
        "webhook-signature": this.signer.sign(event.webhookId, signedAt, body),
      },
      body,
    });
    const response = await route(request);
    const text = await response.text();
    const result = (() => {
      try {
        return JSON.parse(text) as { status?: string; problem?: string };
      } catch {
        return {};
      }
    })();
    if (response.status !== 200 || result.status !== "processed") {
      throw new SeedError(
        `the demo webhook ${event.type} ${event.webhookId} for ${org.slug} was answered ${response.status} ${result.status ?? ""}` +
          `${result.problem ? `: ${result.problem}` : ""} (${text.slice(0, 200)})`,
      );
    }
  }
}
