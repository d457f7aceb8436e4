import http from "node:http";
import type { AddressInfo } from "node:net";

import { subscriptionPayload, webhookPayload, type DodoSubscription, type SubscriptionInit } from "./payloads";
import { WebhookSender, type Delivery, type WebhookTarget } from "./webhooks";

/**
 * A fake Dodo Payments API on 127.0.0.1, for tests and demos. The `dodopayments` SDK reaches
 * it through `baseURL` (`DODO_PAYMENTS_BASE_URL`). It serves:
 *   GET  /subscriptions/{id}   subscriptions it holds (404 otherwise)
 *   POST /events/ingest        Dodo's validation: Bearer auth; 1–1000 events; a duplicate
 *                              event_id within one request → 422; ids already ingested are
 *                              ignored (not counted); a timestamp older than 1 hour or more
 *                              than 5 minutes ahead → 400 for the whole request
 * with injectable failures (a status such as 429 with retry-after or 500, a delay, a hold until
 * a promise settles, for the next N matching requests), plus control routes for a standalone demo:
 *   POST /_fake/subscriptions                   body: SubscriptionInit → stores, returns it
 *   POST /_fake/subscriptions/{id}/webhook      body: { type } → sends a signed webhook
 *   GET  /_fake/events                          everything ingested so far
 */

export interface IngestedEvent {
  event_id: string;
  customer_id: string;
  event_name: string;
  timestamp: string;
  metadata: Record<string, string | number | boolean> | null;
  received_at: string;
}

export interface FailureSpec {
  /** Which requests: "ingest", "subscriptions", or any (default). */
  route?: "ingest" | "subscriptions" | "any";
  /** Answer with this status (e.g. 429, 500, 503); omit to only delay. */
  status?: number;
  /** Seconds, sent as `retry-after` (with 429). */
  retryAfter?: number;
  /** Wait this long before answering (a slow or hanging server: client timeouts). */
  delayMs?: number;
  /**
   * Answer only once this settles: a test holds one request in flight until something else
   * has happened (e.g. a second reporter's request arrived), with no guess at a duration.
   */
  holdUntil?: Promise<unknown>;
  /** How many matching requests it affects (default 1). */
  times?: number;
  /**
   * Ingest only: fail AFTER storing the events — Dodo has them, but the caller never hears
   * so (a reporter killed or timed out mid-request). It must resend; Dodo ignores the repeat.
   */
  afterIngest?: boolean;
}

export interface FakeDodoOptions {
  port?: number;
  host?: string;
  /** The Bearer token it accepts (default "fake_dodo_api_key"). */
  apiKey?: string;
  /** Where `POST /_fake/subscriptions/{id}/webhook` and `sendSubscriptionEvent` deliver. */
  webhook?: { target: WebhookTarget; secret: string };
  now?: () => Date;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  events?: number;
}

export interface FakeDodo {
  url: string;
  port: number;
  apiKey: string;
  subscriptions: Map<string, DodoSubscription>;
  ingested: Map<string, IngestedEvent>;
  /** How many ingest requests carried each event_id (more than 1: a resend Dodo ignored). */
  deliveries: Map<string, number>;
  requests: RequestLogEntry[];
  putSubscription(init: SubscriptionInit | DodoSubscription): DodoSubscription;
  fail(spec: FailureSpec): void;
  sender(): WebhookSender;
  /** Sends a signed webhook with the subscription's current state (`timestamp` default now). */
  sendSubscriptionEvent(subscriptionId: string, type: string, timestamp?: Date): Promise<Delivery>;
  reset(): void;
  close(): Promise<void>;
}

export const MAX_INGEST_EVENTS = 1000;
const HOUR = 3_600_000;
const FUTURE_TOLERANCE = 5 * 60_000;
const MAX_BODY = 10 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message ?? status));
  }
}

const isPrimitive = (v: unknown) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/** Validates an ingest request against Dodo's rules; returns the events to store. */
export function validateIngest(body: unknown, now: Date): Omit<IngestedEvent, "received_at">[] {
  const events = (body as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) throw new HttpError(422, { code: "INVALID_REQUEST_BODY", message: "events: expected an array" });
  if (events.length < 1 || events.length > MAX_INGEST_EVENTS) {
    throw new HttpError(422, {
      code: "INVALID_REQUEST_BODY",
      message: `events: between 1 and ${MAX_INGEST_EVENTS} events, got ${events.length}`,
    });
  }
  const seen = new Set<string>();
  const failed: { event_id: string; error: string }[] = [];
  const out: Omit<IngestedEvent, "received_at">[] = [];
  events.forEach((raw: unknown, index) => {
    const e = (raw ?? {}) as Record<string, unknown>;
    for (const field of ["event_id", "customer_id", "event_name"]) {
      if (typeof e[field] !== "string" || !(e[field] as string)) {
        throw new HttpError(422, { code: "INVALID_REQUEST_BODY", message: `events[${index}].${field}: expected a non-empty string` });
      }
    }
    const id = e.event_id as string;
    if (seen.has(id)) throw new HttpError(422, { code: "DUPLICATE_EVENT_ID", message: `duplicate event_id ${id} in the request` });
    seen.add(id);
    const metadata = e.metadata ?? null;
    if (metadata !== null && (typeof metadata !== "object" || Array.isArray(metadata) || !Object.values(metadata).every(isPrimitive))) {
      throw new HttpError(422, {
        code: "INVALID_REQUEST_BODY",
        message: `events[${index}].metadata: only key-value pairs of strings, numbers, booleans`,
      });
    }
    let timestamp = now;
    if (e.timestamp !== undefined && e.timestamp !== null) {
      const parsed = typeof e.timestamp === "string" ? new Date(e.timestamp) : new Date(Number.NaN);
      if (Number.isNaN(parsed.getTime())) {
        throw new HttpError(422, { code: "INVALID_REQUEST_BODY", message: `events[${index}].timestamp: expected a date-time` });
      }
      if (now.getTime() - parsed.getTime() > HOUR) failed.push({ event_id: id, error: "timestamp is older than 1 hour" });
      else if (parsed.getTime() - now.getTime() > FUTURE_TOLERANCE)
        failed.push({ event_id: id, error: "timestamp is more than 5 minutes in the future" });
      timestamp = parsed;
    }
    out.push({
      event_id: id,
      customer_id: e.customer_id as string,
      event_name: e.event_name as string,
      timestamp: timestamp.toISOString(),
      metadata: metadata as IngestedEvent["metadata"],
    });
  });
  if (failed.length)
    throw new HttpError(400, { code: "INVALID_TIMESTAMP", message: "events with timestamps outside the window", failed_events: failed });
  return out;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > MAX_BODY) throw new HttpError(413, { code: "PAYLOAD_TOO_LARGE", message: "request too large" });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startFakeDodo(options: FakeDodoOptions = {}): Promise<FakeDodo> {
  const apiKey = options.apiKey ?? "fake_dodo_api_key";
  const now = options.now ?? (() => new Date());
  const subscriptions = new Map<string, DodoSubscription>();
  const ingested = new Map<string, IngestedEvent>();
  const deliveries = new Map<string, number>();
  const requests: RequestLogEntry[] = [];
  let failures: (FailureSpec & { remaining: number })[] = [];

  const routeOf = (path: string) => (path === "/events/ingest" ? "ingest" : path.startsWith("/subscriptions/") ? "subscriptions" : "other");

  const putSubscription = (init: SubscriptionInit | DodoSubscription) => {
    const sub = subscriptionPayload(init as SubscriptionInit);
    subscriptions.set(sub.subscription_id, sub);
    return sub;
  };

  const sender = () => {
    if (!options.webhook) throw new Error("fake Dodo started without a webhook target");
    return new WebhookSender(options.webhook.target, options.webhook.secret);
  };

  const sendSubscriptionEvent = async (subscriptionId: string, type: string, timestamp: Date = now()) => {
    const sub = subscriptions.get(subscriptionId);
    if (!sub) throw new Error(`fake Dodo has no subscription ${subscriptionId}`);
    return sender().send(webhookPayload(type, sub, timestamp));
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, log: RequestLogEntry) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    log.path = path;

    // Control routes (no auth: the fake binds to 127.0.0.1 only).
    if (path.startsWith("/_fake/")) {
      if (req.method === "POST" && path === "/_fake/subscriptions") {
        return send(res, 201, putSubscription(JSON.parse((await readBody(req)) || "{}") as SubscriptionInit));
      }
      const hook = /^\/_fake\/subscriptions\/([^/]+)\/webhook$/.exec(path);
      if (req.method === "POST" && hook) {
        const { type = "subscription.updated" } = JSON.parse((await readBody(req)) || "{}") as { type?: string };
        return send(res, 200, await sendSubscriptionEvent(decodeURIComponent(hook[1] as string), type));
      }
      if (req.method === "GET" && path === "/_fake/events") return send(res, 200, { events: [...ingested.values()] });
      throw new HttpError(404, { code: "NOT_FOUND", message: `no control route ${req.method} ${path}` });
    }

    const route = routeOf(path);
    const failure = failures.find((f) => f.remaining > 0 && (!f.route || f.route === "any" || f.route === route));
    if (failure) {
      failure.remaining -= 1;
      failures = failures.filter((f) => f.remaining > 0);
    }
    const applyFailure = async () => {
      if (!failure) return;
      if (failure.delayMs) await sleep(failure.delayMs);
      if (failure.holdUntil) await failure.holdUntil;
      if (failure.status) {
        const headers: Record<string, string> = failure.retryAfter !== undefined ? { "retry-after": String(failure.retryAfter) } : {};
        throw Object.assign(new HttpError(failure.status, { code: "INJECTED_FAILURE", message: `injected ${failure.status}` }), {
          headers,
        });
      }
    };
    const failsAfterIngest = failure?.afterIngest === true && route === "ingest";
    if (!failsAfterIngest) await applyFailure();

    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      throw new HttpError(401, { code: "UNAUTHORIZED", message: "missing or invalid API key" });
    }

    if (req.method === "POST" && path === "/events/ingest") {
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (error) {
        if (error instanceof HttpError) throw error;
        throw new HttpError(422, { code: "INVALID_REQUEST_BODY", message: "malformed JSON" });
      }
      const events = validateIngest(body, now());
      log.events = events.length;
      let count = 0;
      const receivedAt = now().toISOString();
      for (const event of events) {
        deliveries.set(event.event_id, (deliveries.get(event.event_id) ?? 0) + 1);
        if (ingested.has(event.event_id)) continue;
        ingested.set(event.event_id, { ...event, received_at: receivedAt });
        count += 1;
      }
      if (failsAfterIngest) await applyFailure();
      return send(res, 200, { ingested_count: count });
    }

    const subscription = /^\/subscriptions\/([^/]+)$/.exec(path);
    if (req.method === "GET" && subscription) {
      const sub = subscriptions.get(decodeURIComponent(subscription[1] as string));
      if (!sub) throw new HttpError(404, { code: "NOT_FOUND", message: "subscription not found" });
      return send(res, 200, sub);
    }
    throw new HttpError(404, { code: "NOT_FOUND", message: `no route ${req.method} ${path}` });
  };

  const server = http.createServer((req, res) => {
    const log: RequestLogEntry = { method: req.method ?? "GET", path: req.url ?? "/", status: 0 };
    requests.push(log);
    handle(req, res, log)
      .catch((error: unknown) => {
        if (error instanceof HttpError) {
          send(res, error.status, error.body, (error as HttpError & { headers?: Record<string, string> }).headers);
        } else {
          send(res, 500, { code: "INTERNAL", message: (error as Error).message });
        }
      })
      .finally(() => {
        log.status = res.statusCode;
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    port,
    apiKey,
    subscriptions,
    ingested,
    deliveries,
    requests,
    putSubscription,
    fail: (spec) => failures.push({ ...spec, remaining: spec.times ?? 1 }),
    sender,
    sendSubscriptionEvent,
    reset: () => {
      subscriptions.clear();
      ingested.clear();
      deliveries.clear();
      requests.length = 0;
      failures = [];
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
