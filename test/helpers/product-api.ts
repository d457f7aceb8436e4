import superjson from "superjson";

import { ApiKeyService } from "@/server/billing/api-keys";
import type { PrismaClient } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { startRouteServer, type RouteServer } from "./route-server";

/**
 * The product API as the product app meets it: the real tRPC route over HTTP, a key with
 * every product scope, and raw request bodies (the typed client cannot send a lone
 * surrogate, a NUL escape or malformed superjson meta, and a hostile caller is not bound to
 * it). Plus a snapshot of everything an org's usage is made of, to prove a refused request
 * changed nothing.
 */

export type ProductProcedure =
  | "billing.usage.increment"
  | "billing.usage.incrementMany"
  | "billing.usage.get"
  | "billing.entitlements.check"
  | "billing.entitlements.consume"
  | "billing.entitlements.snapshot";

const QUERIES = new Set<ProductProcedure>(["billing.usage.get", "billing.entitlements.check", "billing.entitlements.snapshot"]);

export interface ApiAnswer {
  status: number;
  /** The parsed response body (superjson envelope), or null when it was not JSON. */
  body: unknown;
  /** `error.json.data` of a tRPC error: `{ code, httpStatus, reason, zodIssues, … }`. */
  error: { code?: string; reason?: string | null; zodIssues?: { path: (string | number)[] }[] | null } | null;
  /** The result of a success, deserialized (counts are `bigint` again). */
  data: unknown;
}

export interface ProductApi {
  server: RouteServer;
  /**
   * Sends `rawInput` — the superjson envelope `{"json": …, "meta"?: …}` as JSON TEXT, so
   * escapes like `\u0000` or `\ud800` reach the server as written — to a procedure:
   * POST for mutations, GET `?input=` for queries.
   */
  call(procedure: ProductProcedure, rawInput: string): Promise<ApiAnswer>;
  close(): Promise<void>;
}

export async function startProductApi(prisma: PrismaClient): Promise<ProductApi> {
  const { secret } = await new ApiKeyService(prisma).create({
    name: "product-api-test",
    scopes: ["usage:read", "usage:write", "entitlements:read"],
    createdBy: "vitest",
  });
  const server = await startRouteServer();
  const authorization = `Bearer ${secret}`;
  return {
    server,
    async call(procedure, rawInput) {
      const url = `${server.origin}/api/trpc/${procedure}`;
      const response = QUERIES.has(procedure)
        ? await fetch(`${url}?input=${encodeURIComponent(rawInput)}`, { headers: { authorization } })
        : await fetch(url, { method: "POST", headers: { authorization, "content-type": "application/json" }, body: rawInput });
      const text = await response.text();
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      const parsed = body as {
        error?: { json?: { data?: ApiAnswer["error"] } };
        result?: { data?: Parameters<typeof superjson.deserialize>[0] };
      } | null;
      return {
        status: response.status,
        body,
        error: parsed?.error?.json?.data ?? null,
        data: parsed?.result?.data ? superjson.deserialize(parsed.result.data) : undefined,
      };
    },
    close: () => server.close(),
  };
}

/**
 * Everything usage is made of, for some orgs: ledger rows, cache rows, denials, outbox rows.
 * A cache row at 0 reads as no row (the count is 0 either way): consume creates one on a
 * metric's first use before it knows whether the write is allowed.
 */
export interface OrgState {
  ledger: { id: string; org: string; metric: string; delta: string }[];
  cache: { org: string; metric: string; count: string; lastUpdated: string | null }[];
  denials: number;
  outbox: number;
}

export async function orgState(db: Db, orgIds: readonly string[]): Promise<OrgState> {
  const ids = [...orgIds];
  const [ledger, cache, denials, outbox] = await Promise.all([
    db.$queryRaw<{ id: string; org: string; metric: string; delta: string }[]>`
      SELECT id::text, org_id::text AS org, metric, delta::text FROM usage_ledger WHERE org_id = ANY(${ids}::uuid[]) ORDER BY id`,
    db.$queryRaw<{ org: string; metric: string; count: string; lastUpdated: string | null }[]>`
      SELECT org_id::text AS org, metric, count::text AS count, last_updated::text AS "lastUpdated"
      FROM usage_cache WHERE org_id = ANY(${ids}::uuid[]) AND count <> 0 ORDER BY org_id, metric`,
    db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM entitlement_denials WHERE org_id = ANY(${ids}::uuid[])`,
    db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM usage_report_outbox WHERE org_id = ANY(${ids}::uuid[])`,
  ]);
  return { ledger, cache, denials: Number(denials[0]?.n ?? 0), outbox: Number(outbox[0]?.n ?? 0) };
}

/** A superjson envelope as JSON text; `json` is already JSON text (it may hold raw escapes). */
export function envelope(jsonText: string, meta?: unknown): string {
  return meta === undefined ? `{"json":${jsonText}}` : `{"json":${jsonText},"meta":${JSON.stringify(meta)}}`;
}
