/**
 * Receiving the billing service's outgoing events (Standard Webhooks): `verifyWebhook` checks
 * a delivery's signature and returns the typed event; `createWebhookHandler` is a fetch-style
 * `(Request) => Promise<Response>` for a route. Implemented on WebCrypto (Node 20+, browsers,
 * edge runtimes) to keep the package's one runtime dependency: the signed content is
 * `${webhook-id}.${webhook-timestamp}.${raw body}`, HMAC-SHA256 with the base64 key after
 * `whsec_`, compared in constant time against each `v1,` signature; the timestamp must be
 * within 5 minutes. Deliveries are at least once: dedupe on `event.id` (= `webhook-id`).
 */

/** The event types, as the server names them (held to the server's by the contract test). */
export const BILLING_EVENT_TYPES = [
  "usage.threshold_crossed",
  "usage.limit_reached",
  "entitlements.changed",
  "subscription.changed",
  "test.ping",
] as const;
export type BillingEventType = (typeof BILLING_EVENT_TYPES)[number];

interface EnvelopeOf<T extends BillingEventType, D> {
  /** `evt_…`, the same as the `webhook-id` header on every attempt: dedupe on it. */
  id: string;
  type: T;
  orgId: string;
  /** ISO-8601 UTC. */
  occurredAt: string;
  version: number;
  data: D;
}

/** Counts are decimal strings (64-bit); dates ISO-8601 UTC. */
export interface EntitlementsChangedData {
  plan: string;
  subscriptionStatus: string;
  graceEndsAt: string | null;
  metrics: {
    metric: string;
    used: string;
    limit: string | null;
    limitKind: string;
    remaining: string | null;
    overridden: boolean;
    windowStart: string | null;
    windowEnd: string | null;
    lastUpdated: string | null;
  }[];
  features: { feature: string; enabled: boolean }[];
  asOf: string;
}

export interface SubscriptionChangedData {
  subscription: {
    id: string;
    plan: string | null;
    productId: string;
    status: string;
    currentPeriodStart: string | null;
    currentPeriodEnd: string | null;
    cancelAtPeriodEnd: boolean;
    cancelledAt: string | null;
    expiresAt: string | null;
    quantity: number;
    graceEndsAt: string | null;
  };
  previousStatus: string | null;
}

export type BillingWebhookEvent =
  | EnvelopeOf<"entitlements.changed", EntitlementsChangedData>
  | EnvelopeOf<"subscription.changed", SubscriptionChangedData>
  | EnvelopeOf<"usage.threshold_crossed", Record<string, unknown>>
  | EnvelopeOf<"usage.limit_reached", Record<string, unknown>>
  | EnvelopeOf<"test.ping", { endpointId: string; message: string; sentBy: string }>;

export type WebhookVerificationReason = "missing_headers" | "bad_timestamp" | "bad_signature" | "bad_secret" | "bad_payload";

const BRAND = Symbol.for("ledger-policy.billing-client.webhook-error");

/** Why a delivery was not accepted; recognised by `isWebhookVerificationError` (a brand, not instanceof). */
export class WebhookVerificationError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly reason: WebhookVerificationReason,
    message: string,
  ) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

export const isWebhookVerificationError = (error: unknown): error is WebhookVerificationError =>
  typeof error === "object" && error !== null && (error as { [BRAND]?: unknown })[BRAND] === true;

export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

function header(headers: WebhookHeaders, name: string): string | null {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name);
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Constant time over equal lengths (a length differs only for a malformed signature). */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

async function sign(secret: string, content: string): Promise<string> {
  let key: Uint8Array;
  try {
    key = base64ToBytes(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
  } catch {
    throw new WebhookVerificationError("bad_secret", "the signing secret is not whsec_<base64>");
  }
  const cryptoKey = await globalThis.crypto.subtle.importKey("raw", key as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = await globalThis.crypto.subtle.sign("HMAC", cryptoKey, new TextEncoder().encode(content));
  return bytesToBase64(new Uint8Array(mac));
}

export interface VerifyWebhookOptions {
  /** Accepted clock difference, in seconds (default 300). */
  toleranceSeconds?: number;
  /** For tests: the time the timestamp is judged against. */
  now?: Date;
}

/**
 * Verifies a delivery and returns its event. `payload` is the RAW body (verify before parsing);
 * `secret` the endpoint's `whsec_…` secret, or several (a receiver mid-rotation). Throws
 * `WebhookVerificationError` when the headers are missing, the timestamp is outside the
 * tolerance, no signature matches, or the body is not an event.
 */
export async function verifyWebhook(
  payload: string,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: VerifyWebhookOptions = {},
): Promise<BillingWebhookEvent> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError("missing_headers", "missing webhook-id, webhook-timestamp or webhook-signature");
  }
  const seconds = Number(timestamp);
  const now = (options.now ?? new Date()).getTime() / 1000;
  if (!/^\d+$/.test(timestamp) || Math.abs(now - seconds) > (options.toleranceSeconds ?? 300)) {
    throw new WebhookVerificationError("bad_timestamp", "the webhook-timestamp is missing, malformed or outside the tolerance");
  }
  const offered = signatures
    .split(" ")
    .filter((s) => s.startsWith("v1,"))
    .map((s) => s.slice(3));
  const content = `${id}.${timestamp}.${payload}`;
  let matched = false;
  for (const s of typeof secret === "string" ? [secret] : secret) {
    const expected = await sign(s, content);
    for (const candidate of offered) if (sameText(candidate, expected)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError("bad_signature", "no signature matches the secret");
  let event: BillingWebhookEvent;
  try {
    event = JSON.parse(payload) as BillingWebhookEvent;
  } catch {
    throw new WebhookVerificationError("bad_payload", "the body is not JSON");
  }
  if (typeof event !== "object" || event === null || event.id !== id || !(BILLING_EVENT_TYPES as readonly string[]).includes(event.type)) {
    throw new WebhookVerificationError("bad_payload", "the body is not a billing event for this webhook-id");
  }
  return event;
}

export interface WebhookHandlerOptions {
  secret: string | readonly string[];
  /** Called once per verified delivery; throw to have the delivery retried. Dedupe on `event.id`. */
  onEvent: (event: BillingWebhookEvent) => void | Promise<void>;
  /** A client whose check cache `entitlements.changed` and `subscription.changed` invalidate for the org. */
  client?: { handleEvent(event: BillingWebhookEvent): void };
  toleranceSeconds?: number;
}

/**
 * A fetch-style handler for a route (Next route handlers, Hono, Bun, Deno): 204 after
 * `onEvent` returns, 400 for a delivery that does not verify (not retried usefully), 500 when
 * `onEvent` throws (the service retries).
 */
export function createWebhookHandler(options: WebhookHandlerOptions): (request: Request) => Promise<Response> {
  return async (request) => {
    const body = await request.text();
    let event: BillingWebhookEvent;
    try {
      event = await verifyWebhook(body, request.headers, options.secret, { toleranceSeconds: options.toleranceSeconds });
    } catch (error) {
      if (isWebhookVerificationError(error)) return new Response(error.message, { status: 400 });
      throw error;
    }
    options.client?.handleEvent(event);
    try {
      await options.onEvent(event);
    } catch {
      return new Response("the handler failed", { status: 500 });
    }
    return new Response(null, { status: 204 });
  };
}
