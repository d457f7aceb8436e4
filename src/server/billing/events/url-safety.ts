import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

import { BillingError } from "../errors";

/**
 * Where an endpoint may point: http(s) only, and never at this network's own machines —
 * loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10, where cloud
 * metadata services live), unspecified, CGNAT (100.64/10), multicast or broadcast — unless
 * `EVENTS_ALLOW_PRIVATE_URLS=1` (tests and the local demo deliver to 127.0.0.1). Checked when
 * an endpoint is saved AND at send time on the addresses the connection will use (send.ts
 * pins the connection to the address checked here), so a DNS answer changed after the save
 * (DNS rebinding) cannot reach an internal address.
 */

const FORBIDDEN = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  FORBIDDEN.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  FORBIDDEN.addSubnet(net, prefix, "ipv6");
}

/** An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address it is. */
function unmapped(address: string): { address: string; family: "ipv4" | "ipv6" } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return { address: mapped[1], family: "ipv4" };
  return { address, family: isIP(address) === 6 ? "ipv6" : "ipv4" };
}

/** Whether an IP address is one an endpoint must not reach. */
export function isForbiddenAddress(address: string): boolean {
  const a = unmapped(address.replace(/^\[|\]$/g, ""));
  return FORBIDDEN.check(a.address, a.family);
}

export interface UrlPolicy {
  allowPrivate: boolean;
}

const refuse = (message: string) => new BillingError("BAD_REQUEST", "endpoint_url_refused", message);

/** The URL's syntax and scheme; throws BAD_REQUEST (`endpoint_url_refused`). */
export function parseEndpointUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse(`not a URL: ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw refuse(`only http and https URLs, got ${url.protocol}`);
  if (url.username || url.password) throw refuse("a URL with credentials is refused (use the signing secret)");
  return url;
}

/** An address the connection may use, or the refusal. */
export function checkAddress(address: string, policy: UrlPolicy, host: string): void {
  if (!policy.allowPrivate && isForbiddenAddress(address)) {
    throw refuse(
      `${host} resolves to ${address}, a loopback, private, link-local or otherwise internal address (EVENTS_ALLOW_PRIVATE_URLS=1 allows it)`,
    );
  }
}

/** Resolves the URL's host and checks every address it has; returns them. Throws BAD_REQUEST. */
export async function assertSafeUrl(raw: string, policy: UrlPolicy): Promise<{ url: URL; addresses: string[] }> {
  const url = parseEndpointUrl(raw);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch (error) {
      throw new BillingError("BAD_REQUEST", "endpoint_url_unresolved", `${host} does not resolve: ${(error as Error).message}`);
    }
  }
  for (const address of addresses) checkAddress(address, policy, host);
  return { url, addresses };
}
