import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";

/**
 * Which address a request comes from, for the staff sign-in rate limit (better-auth keys its
 * buckets by it) and the IP stored on a session.
 *
 * `X-Forwarded-For` is whatever the client wrote, plus one address per proxy that appended
 * its peer. Only the hops added by proxies we run can be believed, so: the TCP peer (the
 * socket's address) is the client unless it is a trusted proxy (`TRUSTED_PROXIES`, IPs or
 * CIDR ranges; none by default); then the chain is walked from the right, skipping trusted
 * hops, and the first untrusted address is the client. A client can put anything on the left
 * of the chain; it is never reached while an untrusted hop stands to its right.
 *
 * Next does not give a route handler the socket, and it keeps an incoming `X-Forwarded-For`
 * as it is (`??=` in next/dist/server/base-server.js: it only fills the header from the socket
 * when the client sent none), so neither a route nor `src/proxy.ts` can tell a spoofed value
 * from the real peer. Our own HTTP server in front of Next (scripts/next-server.ts) therefore
 * resolves the address from the socket and stamps it on every request as `CLIENT_IP_HEADER`,
 * replacing any value the client sent; better-auth reads only that header.
 */
export const CLIENT_IP_HEADER = "x-billing-client-ip";

/**
 * Served without our server in front (a plain `next start`), the header above is whatever the
 * client wrote. So the stamp carries this process's seal, a random value made by the first
 * stamp and kept on `globalThis` (Next's bundles in this process see the same one), and
 * `trustedClientIpRequest` drops an address without it: better-auth then knows no address
 * and puts every sign-in in one shared bucket, failing closed.
 */
export const CLIENT_IP_SEAL_HEADER = "x-billing-client-ip-seal";
const SEAL = Symbol.for("ledger-policy-billing.client-ip-seal");

function processSeal(create: boolean): string | undefined {
  const holder = globalThis as { [SEAL]?: string };
  if (create) holder[SEAL] ??= randomBytes(24).toString("base64url");
  return holder[SEAL];
}

function sealMatches(value: string | null): boolean {
  const seal = processSeal(false);
  if (!seal || !value || value.length !== seal.length) return false;
  return timingSafeEqual(Buffer.from(value), Buffer.from(seal));
}

/** `request` as the auth handler may read it: the stamped address only when our server stamped it. */
export function trustedClientIpRequest(request: Request): Request {
  const sealed = sealMatches(request.headers.get(CLIENT_IP_SEAL_HEADER));
  if (sealed && !request.headers.has(CLIENT_IP_SEAL_HEADER)) return request;
  const headers = new Headers(request.headers);
  headers.delete(CLIENT_IP_SEAL_HEADER);
  if (!sealed) headers.delete(CLIENT_IP_HEADER);
  return new Request(request, { headers, duplex: "half" } as RequestInit);
}

export interface TrustedProxies {
  /** The entries as configured, e.g. `["10.0.0.0/8", "127.0.0.1"]`. */
  readonly entries: readonly string[];
  has(address: string): boolean;
}

export class InvalidTrustedProxiesError extends Error {}

/** `TRUSTED_PROXIES` → the trusted set; throws on an entry that is neither an IP nor a CIDR range. */
export function parseTrustedProxies(value: string | undefined): TrustedProxies {
  const entries = (value ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", prefix, extra] = entry.split("/");
    const family = isIP(address);
    const bits = prefix === undefined ? (family === 6 ? 128 : 32) : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (!family || extra !== undefined || !(bits >= 0 && bits <= (family === 6 ? 128 : 32))) {
      throw new InvalidTrustedProxiesError(`must be a comma-separated list of IP addresses or CIDR ranges; "${entry}" is neither`);
    }
    list.addSubnet(address, bits, family === 6 ? "ipv6" : "ipv4");
  }
  return {
    entries,
    // BlockList matches an IPv4-mapped IPv6 peer (`::ffff:127.0.0.1`) against IPv4 ranges too.
    has: (address) => entries.length > 0 && list.check(address, isIP(address) === 6 ? "ipv6" : "ipv4"),
  };
}

/** One hop of a chain as an address (`[v6]:port` and `v4:port`, which some proxies write, unwrapped), or null. */
function hopAddress(hop: string): string | null {
  let address = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1] as string;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(":"));
  return isIP(address) ? address : null;
}

/** `::ffff:192.0.2.1` (an IPv4 client of a dual-stack socket) → `192.0.2.1`. */
const unmapped = (address: string) => (/^::ffff:\d{1,3}(\.\d{1,3}){3}$/i.test(address) ? address.slice(7) : address);

/** The client's address (see above), or undefined when the socket has none. */
export function resolveClientIp(
  socketAddress: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: TrustedProxies,
): string | undefined {
  const peer = socketAddress ? hopAddress(socketAddress) : null;
  if (!peer) return undefined;
  let client = peer;
  if (trusted.has(peer)) {
    const hops = [forwardedFor ?? []]
      .flat()
      .join(",")
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hopAddress(hops[i] as string);
      // Not an address: no proxy of ours wrote it, so stop at the last
      // hop we can vouch for rather than let arbitrary text become a bucket of its own.
      if (!hop) break;
      client = hop;
      if (!trusted.has(hop)) break;
    }
  }
  return unmapped(client);
}

/**
 * Stamps `CLIENT_IP_HEADER` on a request as it arrives on our socket, replacing anything the
 * client sent under that name. The one primitive of the real server and the test harness.
 */
export function stampClientIp(req: IncomingMessage, trusted: TrustedProxies): void {
  const ip = resolveClientIp(req.socket.remoteAddress, req.headers["x-forwarded-for"], trusted);
  if (ip) req.headers[CLIENT_IP_HEADER] = ip;
  else delete req.headers[CLIENT_IP_HEADER];
  req.headers[CLIENT_IP_SEAL_HEADER] = processSeal(true);
}
