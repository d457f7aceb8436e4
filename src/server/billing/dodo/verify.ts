import { Webhook, WebhookVerificationError } from "standardwebhooks";

/**
 * Standard Webhooks verification (what Dodo sends): headers `webhook-id`,
 * `webhook-timestamp`, `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`),
 * ±5 minutes of tolerance, over the RAW body. Any of the configured keys may match, so a
 * key can be rotated without dropping deliveries.
 */

export type VerifyResult =
  | { ok: true; webhookId: string; timestamp: Date; keyIndex: number }
  | { ok: false; reason: "no_keys" | "missing_headers" | "bad_timestamp" | "bad_signature"; message: string };

export interface WebhookHeaders {
  get(name: string): string | null;
}

function headerRecord(headers: WebhookHeaders | Record<string, string | undefined>): Record<string, string> {
  const get = (name: string) =>
    typeof (headers as WebhookHeaders).get === "function"
      ? (headers as WebhookHeaders).get(name)
      : ((headers as Record<string, string | undefined>)[name] ?? null);
  const out: Record<string, string> = {};
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    const value = get(name);
    if (value) out[name] = value;
  }
  return out;
}

/** Parses `DODO_PAYMENTS_WEBHOOK_KEY`-style secrets into verifiers; an unusable key is skipped. */
export function webhookVerifiers(keys: readonly string[]): Webhook[] {
  const verifiers: Webhook[] = [];
  for (const key of keys) {
    try {
      verifiers.push(new Webhook(key));
    } catch {
      console.error("[dodo-webhook] ignoring an unusable webhook key (expected whsec_<base64>)");
    }
  }
  return verifiers;
}

export function verifyWebhook(
  rawBody: string,
  headers: WebhookHeaders | Record<string, string | undefined>,
  keys: readonly string[] | readonly Webhook[],
): VerifyResult {
  const verifiers = keys.length && typeof keys[0] === "string" ? webhookVerifiers(keys as string[]) : (keys as Webhook[]);
  if (verifiers.length === 0) return { ok: false, reason: "no_keys", message: "no webhook key is configured" };
  const h = headerRecord(headers);
  if (!h["webhook-id"] || !h["webhook-timestamp"] || !h["webhook-signature"]) {
    return { ok: false, reason: "missing_headers", message: "missing webhook-id, webhook-timestamp or webhook-signature" };
  }
  let lastMessage = "no matching signature";
  for (const [keyIndex, verifier] of verifiers.entries()) {
    try {
      verifier.verify(rawBody, h, { jsonParse: false });
      return { ok: true, webhookId: h["webhook-id"], timestamp: new Date(Number(h["webhook-timestamp"]) * 1000), keyIndex };
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      lastMessage = error.message;
      // The timestamp check comes first and does not depend on the key: no point trying others.
      if (/timestamp|Invalid Signature Headers/i.test(error.message)) {
        return { ok: false, reason: "bad_timestamp", message: error.message };
      }
    }
  }
  return { ok: false, reason: "bad_signature", message: lastMessage };
}
