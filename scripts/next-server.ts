import { createServer } from "node:http";
import { parseArgs } from "node:util";

import next from "next";

import { exitOnInvalidEnv } from "@/server/env";
import { stampClientIp } from "@/server/http/client-ip";
import { onShutdown } from "@/server/process/shutdown";

/**
 * The dashboard's HTTP server, run by `npm start`, `npm run dev` and the e2e server in place
 * of `next start` / `next dev`: Next itself (`next()`, in this process: the same routing,
 * build, assets and dev HMR), behind a node:http server of ours for one reason — Next never
 * shows a route handler the socket, and keeps a client's `X-Forwarded-For` as sent, so only
 * here can the client's address be taken from the socket (and TRUSTED_PROXIES). Every request
 * gets it stamped as `x-billing-client-ip` before Next sees it (src/server/http/client-ip.ts).
 *
 * It also serves the product app's API-key calls to /api/trpc itself, past Next (the same
 * appRouter and context: src/server/api/product-api-http.ts), unless BILLING_API_VIA_NEXT=1
 * or --dev.
 *
 *   node --conditions=react-server --import tsx scripts/next-server.ts [--dev] [-p PORT] [-H HOSTNAME]
 *
 * NODE_ENV comes from the caller (production, or development with --dev), as `next` sets it.
 */

const { values } = parseArgs({
  options: {
    dev: { type: "boolean", default: false },
    port: { type: "string", short: "p" },
    hostname: { type: "string", short: "H" },
  },
});
const env = exitOnInvalidEnv();
const port = values.port ? Number(values.port) : env.PORT;

const app = next({ dev: values.dev, hostname: values.hostname ?? "localhost", port });
const handle = app.getRequestHandler();
await app.prepare();

// The product app's API-key calls skip Next (product-api-http.ts): same router, same context.
// Not under `next dev`, whose point is reloading the sources this path would load once (and
// which runs without the react-server condition those modules need: loaded only when used).
const productApi =
  values.dev || env.BILLING_API_VIA_NEXT ? null : await import("@/server/api/product-api-http").then((m) => m.createProductApiHandler());

const server = createServer((req, res) => {
  stampClientIp(req, env.TRUSTED_PROXIES);
  if (productApi?.takes(req)) return productApi.serve(req, res);
  handle(req, res).catch((error: unknown) => {
    console.error(error);
    if (!res.headersSent) res.statusCode = 500;
    res.end();
  });
});

onShutdown(async () => {
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  // Requests in flight get 2 s; then whatever is still open (an HMR websocket in dev, a long
  // CSV download) is cut, or close() would wait for it until the caller's SIGKILL.
  const cut = setTimeout(() => server.closeAllConnections(), 2_000);
  await closed;
  clearTimeout(cut);
  await app.close();
});

server.once("error", (error) => {
  console.error(`next-server: ${error.message}`);
  process.exit(1);
});
server.listen(port, values.hostname, () => {
  const proxies = env.TRUSTED_PROXIES.entries;
  console.log(
    `next-server: listening on ${values.hostname ?? "every interface"}:${port} (${values.dev ? "dev" : "production"}); ` +
      `product API: ${productApi ? "API-key calls served before Next" : "through Next"}; ` +
      `client IP: ${proxies.length ? `X-Forwarded-For through trusted proxies ${proxies.join(", ")}` : "the socket's peer (no TRUSTED_PROXIES)"}`,
  );
});
