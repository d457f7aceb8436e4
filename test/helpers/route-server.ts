import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";

import { afterAll } from "vitest";

import * as authRoute from "@/app/api/auth/[...all]/route";
import * as backfillDiffsRoute from "@/app/api/backfill/[runId]/diffs/route";
import * as healthRoute from "@/app/api/health/route";
import * as ledgerExportRoute from "@/app/api/ledger/export/route";
import * as trpcRoute from "@/app/api/trpc/[trpc]/route";
import * as dodoWebhookRoute from "@/app/api/webhooks/dodo/route";
import { createProductApiHandler } from "@/server/api/product-api-http";
import { db as processDb } from "@/server/db/client";
import { parseTrustedProxies, stampClientIp, type TrustedProxies } from "@/server/http/client-ip";

/**
 * The app's real route modules (`src/app/api/**\/route.ts`) served over real HTTP on
 * 127.0.0.1, so tests call them the way the product app, Dodo and a browser do: a socket, a
 * request line, headers, a body. What Next adds around a route handler (its router, the
 * production server) is not here; the handlers, and everything they call, are the real ones.
 * The e2e suite (Playwright against `next start`) covers Next itself.
 *
 * Like the dashboard's own server (scripts/next-server.ts), it stamps the client's address from
 * the socket and TRUSTED_PROXIES (`stampClientIp`, the same function) and serves API-key calls
 * to /api/trpc on the lean path before any route (`productApi`); like Next behind it,
 * it sets `x-forwarded-for` / `x-forwarded-proto` / `x-forwarded-host` when the client sent none.
 */

type Handler = (request: Request, context: { params: Promise<Record<string, string | string[]>> }) => Promise<Response> | Response;

interface Route {
  pattern: RegExp;
  methods: Partial<Record<string, Handler>>;
  params?: (match: RegExpMatchArray) => Record<string, string | string[]>;
}

const ROUTES: Route[] = [
  { pattern: /^\/api\/trpc\/[^/]+$/, methods: { GET: trpcRoute.GET, POST: trpcRoute.POST } },
  { pattern: /^\/api\/webhooks\/dodo$/, methods: { POST: dodoWebhookRoute.POST } },
  { pattern: /^\/api\/ledger\/export$/, methods: { GET: ledgerExportRoute.GET } },
  {
    pattern: /^\/api\/backfill\/([^/]+)\/diffs$/,
    methods: { GET: backfillDiffsRoute.GET as Handler },
    params: (m) => ({ runId: decodeURIComponent(m[1] as string) }),
  },
  { pattern: /^\/api\/health$/, methods: { GET: healthRoute.GET } },
  {
    pattern: /^\/api\/auth\/(.+)$/,
    methods: { GET: authRoute.GET, POST: authRoute.POST, PATCH: authRoute.PATCH, PUT: authRoute.PUT, DELETE: authRoute.DELETE },
    params: (m) => ({ all: (m[1] as string).split("/") }),
  },
];

function toRequest(req: IncomingMessage, origin: string, trusted: TrustedProxies | null): Request {
  if (trusted) stampClientIp(req, trusted);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  if (!headers.has("x-forwarded-for") && req.socket.remoteAddress) headers.set("x-forwarded-for", req.socket.remoteAddress);
  if (!headers.has("x-forwarded-proto")) headers.set("x-forwarded-proto", "http");
  if (!headers.has("x-forwarded-host") && req.headers.host) headers.set("x-forwarded-host", req.headers.host);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(new URL(req.url ?? "/", origin), {
    method: req.method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
    duplex: hasBody ? "half" : undefined,
  } as RequestInit);
}

async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") continue;
    res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length) res.setHeader("set-cookie", cookies);
  if (!response.body) return void res.end();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
  res.end();
}

export interface RouteServer {
  /** e.g. `http://127.0.0.1:40123` */
  origin: string;
  close(): Promise<void>;
}

export interface RouteServerOptions {
  /**
   * As the `TRUSTED_PROXIES` variable; default: its value, else "127.0.0.1" — the test
   * stands where a proxy on the same host would, so a test names its client's address in
   * `X-Forwarded-For` (test/helpers/staff-session.ts gives each sign-in its own, since the
   * sign-in rate limit is shared by every test file of the run). Pass "" for a server that
   * trusts no proxy, as `npm start` does by default.
   */
  trustedProxies?: string;
  /** false: pass the client's headers on as they are, as a plain `next start` does (no server of ours in front). */
  stampClientIp?: boolean;
  /**
   * Who answers API-key calls to /api/trpc: "lean" (default), as scripts/next-server.ts does in
   * production — tRPC's node adapter before any route (src/server/api/product-api-http.ts);
   * "route": the Next route module, as with BILLING_API_VIA_NEXT=1.
   */
  productApi?: "lean" | "route";
}

/** Serves the real route modules on a free loopback port until `close()`; resolves once /api/health answers 200. */
export async function startRouteServer(options: RouteServerOptions = {}): Promise<RouteServer> {
  const trusted = parseTrustedProxies(options.trustedProxies ?? process.env.TRUSTED_PROXIES ?? "127.0.0.1");
  let origin = "";
  const lean = options.productApi === "route" ? null : createProductApiHandler();
  const server = createServer((req, res) => {
    if (lean?.takes(req)) {
      if (options.stampClientIp !== false) stampClientIp(req, trusted);
      return lean.serve(req, res);
    }
    void (async () => {
      const pathname = new URL(req.url ?? "/", origin).pathname;
      const route = ROUTES.find((r) => r.pattern.test(pathname));
      const handler = route?.methods[req.method ?? "GET"];
      if (!route || !handler) {
        res.statusCode = route ? 405 : 404;
        return void res.end();
      }
      const params = route.params?.(pathname.match(route.pattern) as RegExpMatchArray) ?? {};
      const response = await handler(toRequest(req, origin, options.stampClientIp === false ? null : trusted), {
        params: Promise.resolve(params),
      });
      await writeResponse(res, response);
    })().catch((error: unknown) => {
      // A handler that throws is what Next answers with 500: let the test see that status.
      console.error("[route-server]", error);
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((error) => (error ? reject(error) : resolve()));
    });
  // Ready when the routes' database answers: the cold start (the process-wide Prisma client's
  // first query, a few seconds on a loaded machine) lands in the caller's beforeAll, not in
  // the first test's time limit.
  const health = await fetch(`${origin}/api/health`).catch((error: unknown) => error as Error);
  if (health instanceof Error || health.status !== 200) {
    await close();
    throw new Error(
      `route server: GET /api/health answered ${health instanceof Error ? health.message : `${health.status} ${await health.text()}`}`,
    );
  }
  return { origin, close };
}

export interface PeerResponse {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * One HTTP request from a chosen loopback address (`localAddress`, any of 127.0.0.0/8), so a
 * test is a TCP peer of its own: the server sees that address on the socket, and the sign-in
 * buckets of other test files (from 127.0.0.1) are not its buckets. `fetch` cannot choose it.
 */
export function requestFrom(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<PeerResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? "GET", headers: init.headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of [value ?? []].flat()) headers.append(name, v);
        }
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

/**
 * A route server for the whole test file (started at its top level, with `await`), closed
 * after its last test together with the process-wide database the routes opened.
 */
export async function routeServerForFile(options: RouteServerOptions = {}): Promise<RouteServer> {
  const server = await startRouteServer(options);
  afterAll(async () => {
    await server.close();
    await processDb().close();
  });
  return server;
}
