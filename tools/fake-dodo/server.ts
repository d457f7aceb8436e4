import http from "node:http";
import type { AddressInfo } from "node:net";

import { InjectedFailures, type FailureSpec } from "./failures";
import { HttpError, send } from "./http";
import type { IngestedEvent } from "./ingest-validation";
import { webhookPayload, type DodoSubscription, type SubscriptionInit } from "./payloads";
import { handleRequest } from "./routes";
import { FakeDodoState, type RequestLogEntry } from "./state";
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
 *
 * This file starts and stops it and hands out its controls; the routes are in routes.ts, what
 * it holds in state.ts, Dodo's ingest rules in ingest-validation.ts, injected failures in failures.ts.
 */

export interface FakeDodoOptions {
  port?: number;
  host?: string;
  /** The Bearer token it accepts (default "fake_dodo_api_key"). */
  apiKey?: string;
  /** Where `POST /_fake/subscriptions/{id}/webhook` and `sendSubscriptionEvent` deliver. */
  webhook?: { target: WebhookTarget; secret: string };
  now?: () => Date;
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

export async function startFakeDodo(options: FakeDodoOptions = {}): Promise<FakeDodo> {
  const apiKey = options.apiKey ?? "fake_dodo_api_key";
  const now = options.now ?? (() => new Date());
  const state = new FakeDodoState();
  const failures = new InjectedFailures();

  const sender = () => {
    if (!options.webhook) throw new Error("fake Dodo started without a webhook target");
    return new WebhookSender(options.webhook.target, options.webhook.secret);
  };

  const sendSubscriptionEvent = async (subscriptionId: string, type: string, timestamp: Date = now()) => {
    const sub = state.subscriptions.get(subscriptionId);
    if (!sub) throw new Error(`fake Dodo has no subscription ${subscriptionId}`);
    return sender().send(webhookPayload(type, sub, timestamp));
  };

  const context = { apiKey, now, state, failures, sendSubscriptionEvent };
  const server = http.createServer((req, res) => {
    const log: RequestLogEntry = { method: req.method ?? "GET", path: req.url ?? "/", status: 0 };
    state.requests.push(log);
    handleRequest(context, req, res, log)
      .catch((error: unknown) => {
        if (error instanceof HttpError) {
          send(res, error.status, error.body, error.headers);
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
    subscriptions: state.subscriptions,
    ingested: state.ingested,
    deliveries: state.deliveries,
    requests: state.requests,
    putSubscription: (init) => state.putSubscription(init),
    fail: (spec) => failures.add(spec),
    sender,
    sendSubscriptionEvent,
    reset: () => {
      state.clear();
      failures.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
