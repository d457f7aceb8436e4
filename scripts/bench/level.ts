import pg from "pg";

import type { BillingClient } from "@/client";
import { createBillingServices, type BillingServices } from "@/server/billing";
import { createDatabase, type DatabaseHandle } from "@/server/db/client";

import { billingClients, startApiServer } from "./http";
import { defer } from "./lifecycle";

/**
 * Everything one concurrency level needs, each pool sized to the client count: a bare
 * `pg` Pool (the baseline), a Prisma client + services (the service variant), the HTTP
 * server over the same services, and one typed client per simulated client.
 */
export interface Level {
  clients: number;
  pool: pg.Pool;
  db: DatabaseHandle;
  services: BillingServices;
  http: BillingClient[];
  close(): Promise<void>;
}

export async function openLevel(url: string, clients: number, apiKey: string, options: { http?: boolean } = {}): Promise<Level> {
  const pool = new pg.Pool({ connectionString: url, max: clients, application_name: "bench-baseline" });
  pool.on("error", () => {}); // an idle connection dropped at teardown is not a result
  const closePool = defer("close baseline pool", () => pool.end());
  const db = createDatabase(url, { max: clients, applicationName: "bench-service" });
  const closeDb = defer("close service pool", () => db.close());
  const services = createBillingServices(db.prisma, { pool: db.pool });
  const server = options.http === false ? undefined : await startApiServer(db.prisma, services);
  return {
    clients,
    pool,
    db,
    services,
    http: server ? billingClients(server.url, apiKey, clients) : [],
    async close() {
      await server?.close();
      await closeDb();
      await closePool();
    },
  };
}

export async function withLevel<T>(
  url: string,
  clients: number,
  apiKey: string,
  work: (level: Level) => Promise<T>,
  options: { http?: boolean } = {},
): Promise<T> {
  const level = await openLevel(url, clients, apiKey, options);
  try {
    return await work(level);
  } finally {
    await level.close();
  }
}
