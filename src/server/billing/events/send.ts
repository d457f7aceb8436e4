import { lookup as dnsLookup } from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";

import { isBillingError } from "../errors";
import { checkAddress, parseEndpointUrl, type UrlPolicy } from "./url-safety";

/**
 * One POST of a signed envelope: node:http(s) rather than fetch, because the connection must
 * use the address the SSRF check approved — the `lookup` below resolves, checks every address
 * and hands the socket the checked one, so there is no second, unchecked resolution. No
 * redirect is followed (a 3xx is a failed attempt). The whole exchange, body included, has
 * one timeout.
 */

/** How much of a receiver's answer is kept (response_body), in characters. */
export const RESPONSE_EXCERPT_CHARS = 2048;

export interface SendResult {
  /** The HTTP status, or null when no answer came (refused, timeout, network). */
  status: number | null;
  /** At most RESPONSE_EXCERPT_CHARS of the answer's body. */
  body: string | null;
  /** Why there is no 2xx answer: a network error, a timeout, a refusal. Null when answered. */
  error: string | null;
  durationMs: number;
}

function checkedLookup(policy: UrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, "", 0);
      const list = addresses as unknown as { address: string; family: number }[];
      try {
        for (const a of list) checkAddress(a.address, policy, hostname);
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, "", 0);
      }
      if (options.all) return callback(null, list as never);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
      callback(null, first.address, first.family);
    });
  };
}

export function postEvent(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; policy: UrlPolicy },
): Promise<SendResult> {
  const started = Date.now();
  const done = (r: Omit<SendResult, "durationMs">): SendResult => ({ ...r, durationMs: Date.now() - started });
  let url: URL;
  try {
    url = parseEndpointUrl(rawUrl);
    const host = url.hostname.replace(/^\[|\]$/g, "");
    // An IP literal is not looked up: checked here.
    if (isIP(host)) checkAddress(host, options.policy, host);
  } catch (error) {
    return Promise.resolve(done({ status: null, body: null, error: isBillingError(error) ? error.message : String(error) }));
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Omit<SendResult, "durationMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(done(r));
    };
    const request = (url.protocol === "https:" ? https : http).request(url, {
      method: "POST",
      headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      lookup: checkedLookup(options.policy),
      agent: false,
    });
    const timer = setTimeout(() => {
      request.destroy(new Error(`timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    request.on("error", (error) => finish({ status: null, body: null, error: error.message.slice(0, 500) }));
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      response.on("data", (chunk: Buffer) => {
        // Only the excerpt is kept; the rest is read and dropped so the socket closes cleanly.
        if (kept < RESPONSE_EXCERPT_CHARS * 4) {
          chunks.push(chunk);
          kept += chunk.length;
        }
      });
      response.on("error", (error) => finish({ status: response.statusCode ?? null, body: null, error: error.message.slice(0, 500) }));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8").slice(0, RESPONSE_EXCERPT_CHARS);
        // Strip NUL: PostgreSQL text cannot store it.
        finish({ status: response.statusCode ?? null, body: text.replace(/\0/g, ""), error: null });
      });
    });
    request.end(body);
  });
}
