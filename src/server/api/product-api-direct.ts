import type { IncomingMessage, ServerResponse } from "node:http";

import { TRPCError, type AnyProcedure } from "@trpc/server";
import { getErrorShape, getHTTPStatusCode, getTRPCErrorFromUnknown, transformTRPCResponse } from "@trpc/server/unstable-core-do-not-import";

import { appRouter } from "./root";
import { createTRPCContext, logUnexpectedError } from "./trpc";

/**
 * The product API's common call — ONE procedure, unbatched, a query by GET or a mutation by
 * POST of JSON (what packages/client and src/client send) — answered straight from node:http.
 * tRPC's node adapter turns every request into a Fetch `Request` (an AbortController, a web
 * ReadableStream over the body), and its answer into a `Response` streamed back: on the bench's
 * server profile that machinery costs more CPU than the procedure (README, "Benchmark").
 *
 * What runs is tRPC's own, in the order its `resolveResponse` runs it for such a call: the
 * procedure from the appRouter (its middlewares: API-key authentication and scopes, the error
 * map, input validation through the input edge), the context from createTRPCContext, the raw
 * input read and deserialized exactly as its JSON content handler does (lazily, when the
 * procedure's input middleware asks, after authentication), the error shape from the router's
 * errorFormatter, the status from the error code, the transformer on the way out. Anything
 * else (a batch, an unknown path, a method or content type the call does not fit, streaming)
 * is `undefined` here, and the caller hands it to tRPC's adapter, which answers it as before.
 * test/integration/product-api-lean-path.test.ts holds both to the answers of Next's route.
 */

const config = appRouter._def._config;
const procedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure | undefined>;

/** Node's header record as the Fetch `Headers` the context reads (as Next hands the route). */
export function toHeaders(raw: IncomingMessage["headers"]): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

/** The whole body as text, as `Request.json()` decodes it (UTF-8, a BOM dropped). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => resolve(new TextDecoder().decode(Buffer.concat(chunks))));
    req.once("error", reject);
  });
}

/** The call this path answers, or undefined for tRPC's adapter. */
export function directCall(
  req: IncomingMessage,
  basePath: string,
): { path: string; procedure: AnyProcedure; query: URLSearchParams } | undefined {
  const url = req.url ?? "";
  const q = url.indexOf("?");
  const pathname = q === -1 ? url : url.slice(0, q);
  const query = new URLSearchParams(q === -1 ? "" : url.slice(q + 1));
  if (!pathname.startsWith(basePath) || query.has("batch") || query.has("connectionParams")) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(pathname.slice(basePath.length));
  } catch {
    return undefined;
  }
  const procedure = Object.hasOwn(procedures, path) ? procedures[path] : undefined;
  if (!procedure) return undefined;
  const accept = req.headers["trpc-accept"] ?? req.headers.accept;
  if (accept === "application/jsonl" || accept === "text/event-stream") return undefined;
  // tRPC picks its content handler by content type (a GET without one is JSON): only JSON's here.
  const contentType = req.headers["content-type"];
  const json = contentType?.startsWith("application/json") ?? false;
  const type = procedure._def.type;
  if (type === "query" && req.method === "GET" && (contentType === undefined || json)) return { path, procedure, query };
  if (type === "mutation" && req.method === "POST" && json) return { path, procedure, query };
  return undefined;
}

/**
 * Answers the call if it is one this path takes (true), else leaves the request untouched (false).
 */
export function serveDirect(req: IncomingMessage, res: ServerResponse, basePath: string): boolean {
  const call = directCall(req, basePath);
  if (!call) return false;
  void answer(req, res, call).catch((error: unknown) => {
    // Only a bug of this file gets here (every procedure failure is an answer above).
    console.error("[trpc] product-api-direct failed:", error);
    if (!res.headersSent) res.statusCode = 500;
    res.end();
  });
  return true;
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  { path, procedure, query }: { path: string; procedure: AnyProcedure; query: URLSearchParams },
): Promise<void> {
  const type = procedure._def.type as "query" | "mutation";
  // tRPC's JSON content handler, for one call: read once, when the input middleware asks.
  const body = type === "mutation" ? readBody(req) : undefined;
  body?.catch(() => undefined); // read (and fail) through getRawInput below, not unhandled
  let inputs: Promise<unknown> | undefined;
  let input: unknown;
  const getRawInput = () =>
    (inputs ??= (async () => {
      let raw: unknown;
      if (body) raw = JSON.parse(await body);
      else {
        const text = query.get("input");
        if (text) raw = JSON.parse(text);
      }
      input = raw === undefined ? undefined : config.transformer.input.deserialize(raw);
      return input;
    })().catch((cause: unknown) => {
      // As tRPC's input memo: a body that is not JSON is the caller's mistake, not ours.
      if (cause instanceof TRPCError) throw cause;
      throw new TRPCError({ code: "BAD_REQUEST", message: cause instanceof Error ? cause.message : "Invalid input", cause });
    }));

  let ctx: Awaited<ReturnType<typeof createTRPCContext>> | undefined;
  let result: { result: { data: unknown } } | { error: ReturnType<typeof getErrorShape> };
  let error: TRPCError | undefined;
  try {
    ctx = await createTRPCContext({ headers: toHeaders(req.headers) });
    // No abort signal: no procedure reads one (a write, once begun, finishes and commits
    // whether or not its caller is still there), and making one per call costs measurable CPU.
    const data: unknown = await procedure({ path, getRawInput, ctx, type, signal: undefined, batchIndex: 0 });
    result = { result: { data } };
  } catch (cause) {
    error = getTRPCErrorFromUnknown(cause);
    logUnexpectedError({ path, error });
    result = { error: getErrorShape({ config, ctx, error, input, path, type }) };
  }
  res.statusCode = getHTTPStatusCode(result);
  res.setHeader("vary", "trpc-accept, accept");
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(transformTRPCResponse(config, result)));
}
