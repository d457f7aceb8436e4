import { randomBytes } from "node:crypto";

import { Webhook } from "standardwebhooks";

import { Random } from "@/server/seed/prng";

import { fakeId } from "./payloads";

/**
 * Sends Dodo-style webhooks, signed with `standardwebhooks` like Dodo signs them, to a URL
 * or straight to a `(Request) => Response` handler (e.g. the route's exported POST). Can
 * deliver duplicates, out of order, late (an old event signed now), with a stale or future
 * signature timestamp, or with a bad signature.
 */

export type WebhookTarget = string | ((request: Request) => Promise<Response>);

export interface SendOptions {
  /** The delivery's webhook-id; a new one by default. The same id = a redelivery. */
  webhookId?: string;
  /** The `webhook-timestamp` header (default: now). 6 minutes off makes verification fail. */
  signedAt?: Date;
  /** Sign with a wrong key. */
  badSignature?: boolean;
  /** Sign with this secret instead of the sender's (e.g. the second key during rotation). */
  secret?: string;
  /** Change the body AFTER signing (a tampered body). */
  tamper?: (body: string) => string;
  /** Leave these headers out. */
  omitHeaders?: ("webhook-id" | "webhook-timestamp" | "webhook-signature")[];
}

export interface Delivery {
  webhookId: string;
  status: number;
  body: string;
}

/** A fresh `whsec_…` secret. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

export function signedHeaders(secret: string, webhookId: string, signedAt: Date, body: string): Record<string, string> {
  return {
    "webhook-id": webhookId,
    "webhook-timestamp": String(Math.floor(signedAt.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(webhookId, signedAt, body),
  };
}

export class WebhookSender {
  constructor(
    private readonly target: WebhookTarget,
    private readonly secret: string,
  ) {}

  /** Builds the signed request (useful to send it yourself). */
  request(payload: object | string, options: SendOptions = {}): { request: Request; webhookId: string } {
    const webhookId = options.webhookId ?? fakeId("msg");
    const body = typeof payload === "string" ? payload : JSON.stringify(payload);
    const secret = options.badSignature ? newWebhookSecret() : (options.secret ?? this.secret);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      ...signedHeaders(secret, webhookId, options.signedAt ?? new Date(), body),
    };
    for (const name of options.omitHeaders ?? []) delete headers[name];
    const sent = options.tamper ? options.tamper(body) : body;
    const url = typeof this.target === "string" ? this.target : "http://127.0.0.1/api/webhooks/dodo";
    return { request: new Request(url, { method: "POST", headers, body: sent }), webhookId };
  }

  async send(payload: object | string, options: SendOptions = {}): Promise<Delivery> {
    const { request, webhookId } = this.request(payload, options);
    const response = typeof this.target === "string" ? await fetch(request) : await this.target(request);
    return { webhookId, status: response.status, body: await response.text() };
  }

  /** The same delivery (same webhook-id) `times` times, all at once. */
  async sendDuplicates(payload: object, times: number, options: SendOptions = {}): Promise<Delivery[]> {
    const webhookId = options.webhookId ?? fakeId("msg");
    return Promise.all(Array.from({ length: times }, () => this.send(payload, { ...options, webhookId })));
  }

  /**
   * Several events, each with its own webhook-id, in the given order (`reversed`,
   * `shuffled` with a seed), each optionally delivered `copies` times, one after another.
   */
  async sendAll(
    payloads: object[],
    options: { order?: "in_order" | "reversed" | "shuffled"; seed?: number; copies?: number } = {},
  ): Promise<Delivery[]> {
    const withIds = payloads.map((payload) => ({ payload, webhookId: fakeId("msg") }));
    const copies = withIds.flatMap((item) => Array.from({ length: options.copies ?? 1 }, () => item));
    const ordered =
      options.order === "reversed" ? copies.reverse() : options.order === "shuffled" ? shuffle(copies, options.seed ?? 1) : copies;
    const deliveries: Delivery[] = [];
    for (const item of ordered) deliveries.push(await this.send(item.payload, { webhookId: item.webhookId }));
    return deliveries;
  }
}

/** A deterministic Fisher–Yates shuffle (the seed's PRNG). */
export function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  const prng = new Random(seed, 0);
  const random = () => prng.next();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
