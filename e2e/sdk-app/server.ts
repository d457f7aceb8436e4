import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";

import type * as BillingClientPackage from "@ledger-policy/billing-client";
import { build, type Plugin } from "esbuild";

/**
 * A tiny product app for the React SDK's end-to-end test (e2e/sdk-react.spec.ts): the page
 * of app.tsx, bundled with esbuild, and the product backend's two routes — the SDK's
 * `createBillingProxy` at /api/billing and an invite route that consumes `member.add` with
 * the real SDK client — in front of the REAL billing server the e2e suite runs.
 *
 * The "session" is a cookie `org=<uuid>` that GET / sets, as a product's sign-in would; the
 * API key stays in this process. Both the page and this backend use THIS checkout's build
 * of the package (packages/client/dist, `npm run build:client`), not whichever copy
 * node_modules links to, so the test exercises the code beside it.
 */

const PACKAGE_DIR = path.resolve(import.meta.dirname, "../../packages/client");
const ENTRY_FILES: Record<string, string> = {
  "@ledger-policy/billing-client": "dist/index.js",
  "@ledger-policy/billing-client/react": "dist/react.js",
};

export interface SdkAppOptions {
  /** The billing service's tRPC endpoint, e.g. http://127.0.0.1:3100/api/trpc. */
  billingUrl: string;
  apiKey: string;
  /** The org the page's session cookie names. */
  orgId: string;
}

export interface SdkApp {
  url: string;
  close: () => Promise<void>;
}

/** Resolves the package's entries to this checkout's build (an esbuild alias for a package with subpaths). */
const thisCheckoutsClient: Plugin = {
  name: "this-checkouts-billing-client",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^@ledger-policy\/billing-client(\/react)?$/ }, (args) => ({
      path: path.join(PACKAGE_DIR, ENTRY_FILES[args.path] ?? ""),
    }));
  },
};

async function bundleApp(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(import.meta.dirname, "app.tsx")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    plugins: [thisCheckoutsClient],
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error("esbuild produced no bundle for app.tsx");
  return output.text;
}

const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>SDK test app</title></head>
  <body><div id="root"></div><script type="module" src="/app.js"></script></body>
</html>`;

/** The session's org: the `org` cookie, as a product's session lookup would give it. */
function orgOfSession(cookieHeader: string | null | undefined): string | null {
  for (const part of (cookieHeader ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "org" && value.length > 0) return decodeURIComponent(value.join("="));
  }
  return null;
}

function toRequest(req: IncomingMessage, origin: string): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
  }
  return new Request(new URL(req.url ?? "/", origin), { method: req.method, headers });
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

/** The server half of the SDK from this checkout's build, typed by the package. */
export async function loadSdk(): Promise<typeof BillingClientPackage> {
  return (await import(
    pathToFileURL(path.join(PACKAGE_DIR, ENTRY_FILES["@ledger-policy/billing-client"] ?? "")).href
  )) as typeof BillingClientPackage;
}

export async function startSdkApp(options: SdkAppOptions): Promise<SdkApp> {
  const sdk = await loadSdk();
  const client = sdk.createBillingClient({ url: options.billingUrl, apiKey: options.apiKey, timeoutMs: 10_000 });
  const proxy = sdk.createBillingProxy({ client, identify: (request) => orgOfSession(request.headers.get("cookie")) });
  const script = await bundleApp();

  const routes = async (req: IncomingMessage, origin: string): Promise<Response> => {
    const url = new URL(req.url ?? "/", origin);
    if (req.method === "GET" && url.pathname === "/") {
      return new Response(INDEX_HTML, {
        headers: { "content-type": "text/html; charset=utf-8", "set-cookie": `org=${options.orgId}; Path=/; HttpOnly; SameSite=Strict` },
      });
    }
    if (req.method === "GET" && url.pathname === "/app.js") {
      return new Response(script, { headers: { "content-type": "text/javascript; charset=utf-8" } });
    }
    if (url.pathname === "/api/billing") return proxy(toRequest(req, origin));
    if (req.method === "POST" && url.pathname === "/api/invite") {
      const orgId = orgOfSession(req.headers.cookie);
      if (!orgId) return Response.json({ error: "unauthenticated" }, { status: 401 });
      // One invite = one member.add, decided and recorded by the service in one step.
      const decision = await client.consume({ orgId, action: "member.add", idempotencyKey: `invite:${randomUUID()}` });
      return Response.json({
        allowed: decision.allowed,
        used: "used" in decision && decision.used !== undefined ? decision.used.toString() : null,
        limit: "limit" in decision && decision.limit != null ? decision.limit.toString() : null,
        message: decision.reason?.message ?? null,
      });
    }
    return new Response("not found", { status: 404 });
  };

  const server = createServer((req, res) => {
    const origin = `http://${req.headers.host ?? "127.0.0.1"}`;
    routes(req, origin)
      .then((response) => send(res, response))
      .catch((error: unknown) => {
        console.error("[sdk-app]", error);
        res.writeHead(500).end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
