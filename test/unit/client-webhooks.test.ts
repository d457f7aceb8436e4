import { describe, expect, it } from "vitest";

import { envelopeBody } from "@/server/billing/events/envelope";
import { newSigningSecret, signedHeaders } from "@/server/billing/events/signing";

import { createBillingClient, createWebhookHandler, isWebhookVerificationError, verifyWebhook } from "../../packages/client/src";

/** The SDK's own (WebCrypto) verification against what the server's deliverer signs. */
const ORG = "3f0c6d2e-8b7a-4c51-9e0f-1a2b3c4d5e6f";
function signed(secrets: string[], now = new Date(), type = "entitlements.changed") {
  const body = envelopeBody({ id: "evt_abc", type, orgId: ORG, occurredAt: now, payloadVersion: 1, payload: { plan: "pro" } });
  return { body, headers: signedHeaders("evt_abc", body, secrets, now) };
}

describe("verifyWebhook (packages/client)", () => {
  it("returns the typed event for a delivery signed by the server, with either secret of a rotation", async () => {
    const [current, previous] = [newSigningSecret(), newSigningSecret()];
    const { body, headers } = signed([current, previous]);
    for (const secret of [current, previous, [newSigningSecret(), previous]]) {
      const event = await verifyWebhook(body, headers, secret);
      expect(event).toMatchObject({ id: "evt_abc", type: "entitlements.changed", orgId: ORG, version: 1, data: { plan: "pro" } });
    }
  });

  it.each([
    ["bad_signature", (d: ReturnType<typeof signed>) => ({ ...d, body: d.body.replace("pro", "business") })],
    ["bad_signature", (d: ReturnType<typeof signed>) => ({ ...d, headers: { ...d.headers, "webhook-id": "evt_other" } })],
    ["missing_headers", (d: ReturnType<typeof signed>) => ({ ...d, headers: { ...d.headers, "webhook-signature": "" } })],
    ["bad_timestamp", (_d: ReturnType<typeof signed>) => signed([SECRET], new Date(Date.now() - 6 * 60_000))],
  ] as const)("refuses with %s", async (reason, tamper) => {
    const d = tamper(signed([SECRET]));
    const error = await verifyWebhook(d.body, d.headers, SECRET).catch((e: unknown) => e);
    expect(isWebhookVerificationError(error)).toBe(true);
    expect(error).toMatchObject({ reason });
  });

  it("the handler answers 204 and invalidates the client's cached checks for the org; 400 for a forgery", async () => {
    const client = createBillingClient({ url: "http://127.0.0.1:9", apiKey: "k", checkCache: { ttlMs: 60_000 } });
    const invalidated: (string | undefined)[] = [];
    client.invalidate = (orgId?: string) => void invalidated.push(orgId);
    const seen: string[] = [];
    const handler = createWebhookHandler({ secret: SECRET, client, onEvent: (e) => void seen.push(e.type) });
    const { body, headers } = signed([SECRET]);
    const ok = await handler(new Request("http://x/hook", { method: "POST", body, headers }));
    expect(ok.status).toBe(204);
    expect(seen).toEqual(["entitlements.changed"]);
    expect(invalidated).toEqual([ORG]);
    const forged = await handler(new Request("http://x/hook", { method: "POST", body: body.replace("pro", "x"), headers }));
    expect(forged.status).toBe(400);
    expect(seen).toHaveLength(1);
  });
});

const SECRET = newSigningSecret();
