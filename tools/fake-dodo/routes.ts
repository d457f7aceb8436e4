import type http from "node:http";

import { applyFailure, type InjectedFailures, type RequestRoute } from "./failures";
import { HttpError, readBody, send } from "./http";
import { validateIngest } from "./ingest-validation";
import type { SubscriptionInit } from "./payloads";
import type { FakeDodoState, RequestLogEntry } from "./state";
import type { Delivery } from "./webhooks";

/** The fake's routes: Dodo's API (ingest, subscriptions) behind its injected failures and auth, and the control routes of a demo. */

export interface RouteContext {
  apiKey: string;
  now: () => Date;
  state: FakeDodoState;
  failures: InjectedFailures;
  sendSubscriptionEvent(subscriptionId: string, type: string): Promise<Delivery>;
}

const routeOf = (path: string): RequestRoute =>
  path === "/events/ingest" ? "ingest" : path.startsWith("/subscriptions/") ? "subscriptions" : "other";

/** Answers one request; an HttpError thrown from here is the caller's to send. */
export async function handleRequest(context: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, log: RequestLogEntry) {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const path = url.pathname.replace(/\/+$/, "") || "/";
  log.path = path;

  // Control routes (no auth: the fake binds to 127.0.0.1 only).
  if (path.startsWith("/_fake/")) return handleControl(context, req, res, path);

  const route = routeOf(path);
  const failure = context.failures.take(route);
  const failsAfterIngest = failure?.afterIngest === true && route === "ingest";
  if (!failsAfterIngest) await applyFailure(failure);

  if (req.headers.authorization !== `Bearer ${context.apiKey}`) {
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
    const events = validateIngest(body, context.now());
    log.events = events.length;
    const count = context.state.ingest(events, context.now().toISOString());
    if (failsAfterIngest) await applyFailure(failure);
    return send(res, 200, { ingested_count: count });
  }

  const subscription = /^\/subscriptions\/([^/]+)$/.exec(path);
  if (req.method === "GET" && subscription) {
    const sub = context.state.subscriptions.get(decodeURIComponent(subscription[1] as string));
    if (!sub) throw new HttpError(404, { code: "NOT_FOUND", message: "subscription not found" });
    return send(res, 200, sub);
  }
  throw new HttpError(404, { code: "NOT_FOUND", message: `no route ${req.method} ${path}` });
}

async function handleControl(context: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, path: string) {
  if (req.method === "POST" && path === "/_fake/subscriptions") {
    return send(res, 201, context.state.putSubscription(JSON.parse((await readBody(req)) || "{}") as SubscriptionInit));
  }
  const hook = /^\/_fake\/subscriptions\/([^/]+)\/webhook$/.exec(path);
  if (req.method === "POST" && hook) {
    const { type = "subscription.updated" } = JSON.parse((await readBody(req)) || "{}") as { type?: string };
    return send(res, 200, await context.sendSubscriptionEvent(decodeURIComponent(hook[1] as string), type));
  }
  if (req.method === "GET" && path === "/_fake/events") return send(res, 200, { events: [...context.state.ingested.values()] });
  throw new HttpError(404, { code: "NOT_FOUND", message: `no control route ${req.method} ${path}` });
}
