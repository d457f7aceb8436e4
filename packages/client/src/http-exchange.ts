/**
 * One HTTP exchange of the transport: a request out, the status and body text back. Two ways:
 * - in Node (no `fetch` given): `node:http`/`node:https` with a keep-alive agent of the
 *   client's own. A check or consume is the product app's request path, and Node's `fetch`
 *   (undici, web streams, a `Response` per call) costs 2–3× the CPU of `http.request` for the
 *   same small exchange (README, "What each layer costs per call");
 * - anywhere else, or when the app passes its own `fetch` (tests, proxies, edge runtimes):
 *   that `fetch`.
 * Node's modules are taken with `process.getBuiltinModule` (Node ≥ 20.16), never imported, so
 * the package still loads in a browser, an edge runtime or a bundler that knows no `node:`.
 */

export interface ExchangeRequest {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface ExchangeResponse {
  status: number;
  text: string;
}

/** Sends `target` (a path and query under the base URL) and reads the whole answer. */
export type HttpExchange = (target: string, request: ExchangeRequest) => Promise<ExchangeResponse>;

export function fetchExchange(baseUrl: string, fetchImpl: typeof fetch): HttpExchange {
  const base = baseUrl.replace(/\/$/, "");
  return async (target, { method, headers, body, signal }) => {
    const response = await fetchImpl(`${base}/${target}`, { method, headers, body, signal });
    return { status: response.status, text: await response.text() };
  };
}

// What this file uses of node:http / node:https (the package compiles without Node's types).
interface NodeIncoming {
  statusCode?: number;
  setEncoding(encoding: "utf8"): void;
  on(event: "data", listener: (chunk: string) => void): void;
  on(event: "end" | "aborted", listener: () => void): void;
  on(event: "error", listener: (error: Error) => void): void;
}
interface NodeClientRequest {
  on(event: "error", listener: (error: Error) => void): void;
  end(body?: string): void;
}
interface NodeHttp {
  Agent: new (options: { keepAlive: boolean; timeout: number }) => unknown;
  request(
    options: {
      protocol: string;
      hostname: string;
      port: string;
      path: string;
      method: string;
      headers: Record<string, string>;
      agent: unknown;
      signal: AbortSignal;
    },
    onResponse: (response: NodeIncoming) => void,
  ): NodeClientRequest;
}

/**
 * Idle connections are closed by the agent after this long: below Node's (and so Next's)
 * 5-second server keep-alive, so the client does not send on a socket the server is closing.
 * If that still happens, the call fails as NETWORK_ERROR and a repeatable call is retried.
 */
const IDLE_SOCKET_MS = 4_000;

/** The Node way, or null outside Node (or on a Node without `process.getBuiltinModule`). */
export function nodeExchange(baseUrl: string): HttpExchange | null {
  const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof getBuiltin !== "function") return null;
  const url = new URL(baseUrl);
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const http = getBuiltin(url.protocol === "https:" ? "node:https" : "node:http") as NodeHttp | undefined;
  if (!http) return null;
  const agent = new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
  const prefix = `${url.pathname.replace(/\/$/, "")}/`;
  const { protocol, hostname, port } = url;
  return (target, { method, headers, body, signal }) =>
    new Promise((resolve, reject) => {
      const request = http.request({ protocol, hostname, port, path: prefix + target, method, headers, agent, signal }, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
        response.on("aborted", () => reject(new Error("the connection closed before the answer ended")));
        response.on("error", reject);
      });
      request.on("error", reject);
      request.end(body);
    });
}
