import { randomBytes } from "node:crypto";

import { Webhook } from "standardwebhooks";

/**
 * Standard Webhooks signing of a delivery (https://www.standardwebhooks.com): `webhook-id` is
 * the event id (the same on every attempt and replay: receivers dedupe on it),
 * `webhook-timestamp` the attempt's time in seconds, `webhook-signature` one `v1,<base64>`
 * per secret, space-separated — the current secret and, during a rotation window, the
 * previous one, so a receiver still holding the old secret keeps verifying.
 */

/** A new signing secret: `whsec_` and 32 random bytes in base64 (what the standard's libraries read). */
export const newSigningSecret = (): string => `whsec_${randomBytes(32).toString("base64")}`;

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_WINDOW_MS = 24 * 60 * 60_000;

export interface SigningSecrets {
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
}

/** The secrets that sign at `now`: the current one, then the previous one while its window lasts. */
export function activeSecrets(s: SigningSecrets, now: Date): string[] {
  const previousValid = s.previousSecret && s.previousSecretExpiresAt && s.previousSecretExpiresAt > now;
  return previousValid ? [s.secret, s.previousSecret as string] : [s.secret];
}

export function signedHeaders(eventId: string, body: string, secrets: readonly string[], now: Date): Record<string, string> {
  const signatures = secrets.map((secret) => new Webhook(secret).sign(eventId, now, body));
  return {
    "content-type": "application/json",
    "user-agent": "ledger-policy-billing-events/1",
    "webhook-id": eventId,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": signatures.join(" "),
  };
}
