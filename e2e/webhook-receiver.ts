import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

import { Webhook } from "standardwebhooks";

/**
 * The product app's side of outgoing events, for e2e/events.spec.ts: a node:http server on
 * 127.0.0.1 (random port) that checks each POST's Standard Webhooks signature with the secret
 * the spec copied from the dashboard for that path, records every request, and answers per
 * path: 200, or 500 while the spec makes that path fail. A bad signature is answered 401 and
 * recorded as unverified, so a wrongly signed delivery is never `delivered`.
 */

export interface ReceivedRequest {
  path: string;
  webhookId: string | undefined;
  /** The envelope's `type` (e.g. `test.ping`), when the body is JSON. */
  type: string | undefined;
  /** The signature verified with the path's secret. */
  verified: boolean;
  /** What the receiver answered. */
  answered: number;
}

export interface WebhookReceiver {
  url(path: string): string;
  /** The secret deliveries to `path` must be signed with (shown once by the dashboard). */
  trust(path: string, secret: string): void;
  /** From now on, `path` answers 500 (true) or 200 (false). */
  fail(path: string, failing: boolean): void;
  received(path: string): ReceivedRequest[];
  close(): Promise<void>;
}

/** The body a failing path answers with; the delivery page shows its excerpt. */
export const FAILING_BODY = "receiver down (e2e): try again later";

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

function verify(secret: string | undefined, body: string, headers: IncomingHttpHeaders): boolean {
  if (!secret) return false;
  try {
    new Webhook(secret).verify(body, {
      "webhook-id": header(headers, "webhook-id") ?? "",
      "webhook-timestamp": header(headers, "webhook-timestamp") ?? "",
      "webhook-signature": header(headers, "webhook-signature") ?? "",
    });
    return true;
  } catch {
    return false;
  }
}

function typeOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { type?: unknown };
    return typeof parsed.type === "string" ? parsed.type : undefined;
  } catch {
    return undefined;
  }
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secrets = new Map<string, string>();
  const failing = new Set<string>();
  const requests: ReceivedRequest[] = [];

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const body = Buffer.concat(chunks).toString("utf8");
      const verified = req.method === "POST" && verify(secrets.get(path), body, req.headers);
      const answered = !verified ? 401 : failing.has(path) ? 500 : 200;
      requests.push({ path, webhookId: header(req.headers, "webhook-id"), type: typeOf(body), verified, answered });
      res.writeHead(answered, { "content-type": "text/plain" });
      res.end(answered === 500 ? FAILING_BODY : answered === 401 ? "bad signature" : "ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    trust: (path, secret) => void secrets.set(path, secret),
    fail: (path, on) => void (on ? failing.add(path) : failing.delete(path)),
    received: (path) => requests.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
