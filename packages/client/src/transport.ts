import superjson from "superjson";

import { BillingClientError, type BillingErrorCode } from "./errors";
import type { ExchangeRequest, ExchangeResponse, HttpExchange } from "./http-exchange";

/**
 * One call of the billing API's HTTP protocol (tRPC v11, unbatched, superjson): a query is
 * `GET <url>/<path>?input=<json>`, a mutation `POST <url>/<path>` with the JSON body; the
 * answer is `{ result: { data } }` or `{ error }`, both superjson-encoded. Written here
 * rather than taken from `@trpc/client` so the package needs no `@trpc/server` at run time,
 * installs small, and owns its errors and timeouts.
 */

export interface TransportConfig {
  /** The headers every call carries (the credential). */
  headers: Record<string, string>;
  /** Sends one request under the API's URL (http-exchange.ts). */
  exchange: HttpExchange;
}

export type ProcedureType = "query" | "mutation";

export async function callProcedure(
  config: TransportConfig,
  type: ProcedureType,
  path: string,
  input: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  const serialized = JSON.stringify(superjson.serialize(input));
  let target = path;
  let request: ExchangeRequest;
  if (type === "query") {
    target += `?input=${encodeURIComponent(serialized)}`;
    request = { method: "GET", headers: config.headers, signal };
  } else {
    request = { method: "POST", headers: { ...config.headers, "content-type": "application/json" }, body: serialized, signal };
  }

  let response: ExchangeResponse;
  try {
    response = await config.exchange(target, request);
  } catch (error) {
    throw failureOf(error, signal, path);
  }
  return resultOf(parseBody(response.text), response, path);
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function resultOf(body: unknown, response: ExchangeResponse, path: string): unknown {
  if (isObject(body) && isObject(body.result) && "data" in body.result) return deserialize(body.result.data, response, path);
  if (isObject(body) && "error" in body) throw errorOf(deserialize(body.error, response, path), response, path);
  throw new BillingClientError({
    code: response.status === 429 ? "TOO_MANY_REQUESTS" : "BAD_RESPONSE",
    message: `The billing service answered HTTP ${response.status} without a billing API body (is the URL the /api/trpc endpoint?)`,
    httpStatus: response.status,
    path,
  });
}

function deserialize(value: unknown, response: ExchangeResponse, path: string): unknown {
  try {
    return superjson.deserialize(value as Parameters<typeof superjson.deserialize>[0]);
  } catch (cause) {
    throw new BillingClientError({
      code: "BAD_RESPONSE",
      message: "The billing service's answer could not be decoded",
      httpStatus: response.status,
      path,
      cause,
    });
  }
}

const KNOWN_CODES: ReadonlySet<string> = new Set<BillingErrorCode>([
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "TOO_MANY_REQUESTS",
  "INTERNAL_SERVER_ERROR",
]);

function errorOf(shape: unknown, response: ExchangeResponse, path: string): BillingClientError {
  const data = isObject(shape) && isObject(shape.data) ? shape.data : {};
  const code = typeof data.code === "string" && KNOWN_CODES.has(data.code) ? (data.code as BillingErrorCode) : statusCode(response.status);
  const issues = Array.isArray(data.zodIssues) ? (data.zodIssues as { path: (string | number)[]; message: string }[]) : null;
  return new BillingClientError({
    code,
    message: isObject(shape) && typeof shape.message === "string" ? shape.message : `HTTP ${response.status}`,
    reason: typeof data.reason === "string" ? data.reason : null,
    httpStatus: response.status,
    path,
    issues,
  });
}

function statusCode(status: number): BillingErrorCode {
  if (status === 400) return "BAD_REQUEST";
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "FORBIDDEN";
  if (status === 404) return "NOT_FOUND";
  if (status === 409) return "CONFLICT";
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 429) return "TOO_MANY_REQUESTS";
  return status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_RESPONSE";
}

/** An exchange that threw: our timeout, the caller's abort, or the network. */
function failureOf(error: unknown, signal: AbortSignal, path: string): BillingClientError {
  if (signal.aborted) {
    const timedOut = signal.reason instanceof BillingClientError && signal.reason.code === "TIMEOUT";
    return timedOut
      ? (signal.reason as BillingClientError)
      : new BillingClientError({ code: "ABORTED", message: "The call was aborted by the caller", path, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new BillingClientError({ code: "NETWORK_ERROR", message: `Could not reach the billing service: ${message}`, path, cause: error });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
