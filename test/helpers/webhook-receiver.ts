import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { Webhook } from "standardwebhooks";

/**
 * A product app's webhook receiver on 127.0.0.1 (node:http): records every request, verifies
 * its Standard Webhooks signature with the `standardwebhooks` library against the secrets it
 * is given, and answers as the test's `respond` says (a status, or "hang" to never answer).
 */
export interface ReceivedRequest {
  webhookId: string;
  timestamp: string;
  signature: string;
  body: string;
  /** Which of the receiver's secrets verified it (index), or -1 when none did. */
  verifiedWith: number;
  /** What the receiver answered. */
  answer?: Answer;
}

export type Answer = number | "hang";

export interface Receiver {
  url: string;
  received: ReceivedRequest[];
  secrets: string[];
  respond: (request: ReceivedRequest, nth: number) => Answer;
  close(): Promise<void>;
}

export async function startReceiver(respond: Receiver["respond"] = () => 200): Promise<Receiver> {
  const hanging = new Set<ServerResponse>();
  const receiver: Receiver = {
    url: "",
    received: [],
    secrets: [],
    respond,
    close: async () => {
      for (const res of hanging) res.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = {
        "webhook-id": String(req.headers["webhook-id"] ?? ""),
        "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
        "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
      };
      const verifiedWith = receiver.secrets.findIndex((secret) => {
        try {
          new Webhook(secret).verify(body, headers);
          return true;
        } catch {
          return false;
        }
      });
      const request: ReceivedRequest = {
        webhookId: headers["webhook-id"],
        timestamp: headers["webhook-timestamp"],
        signature: headers["webhook-signature"],
        body,
        verifiedWith,
      };
      receiver.received.push(request);
      const answer = receiver.respond(request, receiver.received.length);
      request.answer = answer;
      if (answer === "hang") {
        hanging.add(res);
        return;
      }
      res.writeHead(answer, { "content-type": "text/plain" }).end(`answer ${answer} to ${request.webhookId}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}
