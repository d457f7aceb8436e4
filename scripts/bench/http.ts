import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { createHTTPHandler } from "@trpc/server/adapters/standalone";

import { createBillingClient, type BillingClient } from "@/client";
import { appRouter } from "@/server/api/root";
import { createTRPCContext } from "@/server/api/trpc";
import type { BillingServices } from "@/server/billing";
import type { PrismaClient } from "@/server/db/client";

import { defer } from "./lifecycle";

/**
 * The appRouter over real HTTP (tRPC's standalone adapter) in this process, on the given
 * Prisma client and services, at /api/trpc on 127.0.0.1 — what the product app reaches.
 */
export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

export async function startApiServer(prisma: PrismaClient, services: BillingServices): Promise<ApiServer> {
  const handler = createHTTPHandler({
    router: appRouter,
    createContext: ({ req }) =>
      createTRPCContext({ headers: new Headers(req.headers as Record<string, string>), db: () => prisma, billing: () => services }),
    onError: ({ error, path }) => {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`[bench http] ${path ?? "?"}: ${error.message}`);
    },
  });
  const server = createServer((req, res) => {
    req.url = (req.url ?? "").replace(/^\/api\/trpc/, "");
    void handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = defer("close HTTP server", async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections(); // the clients' keep-alive sockets
    await closed;
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/trpc`, close };
}

/** One typed client per simulated product-app process, no batching: one call, one request. */
export function billingClients(url: string, apiKey: string, count: number): BillingClient[] {
  return Array.from({ length: count }, () => createBillingClient({ url, apiKey, batch: false }));
}
