import { randomInt } from "node:crypto";

import { afterAll, describe, expect, it } from "vitest";

// Before the auth module reads it (the route's instance is created on its first request).
process.env.BETTER_AUTH_SECRET ??= "vitest-sign-in-client-ip-secret-0123456789";

const { SIGN_IN_MAX } = await import("@/server/auth/auth");
const { requestFrom, startRouteServer } = await import("../helpers/route-server");
const { testDatabase, uniqueSuffix } = await import("../helpers/db");

// The sign-in rate limit over real HTTP, keyed by the address the request really comes from.
// Each test is a TCP peer of its own (a random 127.x.y.z) or, behind the "proxy", a client
// address of its own, so no other test file's sign-ins share its buckets.

const { prisma } = testDatabase();
const direct = await startRouteServer({ trustedProxies: "" });
const behindProxy = await startRouteServer({ trustedProxies: "127.0.0.1" });
// As a plain `next start` serves: nothing of ours in front stamps (or clears) the address.
const unstamped = await startRouteServer({ stampClientIp: false });
afterAll(() => Promise.all([direct.close(), behindProxy.close(), unstamped.close()]));

/** A loopback address of this run's own, never 127.0.0.1 (the trusted proxy below). */
const loopbackPeer = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
/** A client address of this run's own (TEST-NET-2 / benchmarking ranges). */
const clientAddress = () => `198.${randomInt(18, 20)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

async function badSignIn(
  server: { origin: string },
  from: string,
  forwardedFor?: string,
  extraHeaders: Record<string, string> = {},
): Promise<number> {
  const response = await requestFrom(from, `${server.origin}/api/auth/sign-in/email`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      origin: server.origin,
      ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}),
      ...extraHeaders,
    },
    body: JSON.stringify({ email: `nobody-${uniqueSuffix()}@staff.test`, password: "wrong password!" }),
  });
  return response.status;
}

const limited = (attempts: number) => Array.from({ length: attempts }, (_, i) => (i < SIGN_IN_MAX ? 401 : 429));

describe("sign-in rate limit by client address", () => {
  it.each([
    ["no trusted proxies", direct],
    ["TRUSTED_PROXIES=127.0.0.1, from a peer that is not one", behindProxy],
  ])("%s: a new X-Forwarded-For on every attempt does not dodge the limit of the socket's peer", async (_, server) => {
    const peer = loopbackPeer();
    const statuses: number[] = [];
    for (let i = 0; i < SIGN_IN_MAX + 3; i++) {
      // One value, then a chain ending in the trusted proxy's address: neither is believed.
      statuses.push(await badSignIn(server, peer, i % 2 ? `${clientAddress()}, 127.0.0.1` : clientAddress()));
    }
    expect(statuses).toEqual(limited(SIGN_IN_MAX + 3));
    const buckets = await prisma.staffRateLimit.findMany({ where: { key: { startsWith: `${peer}|` } } });
    expect(buckets.map((b) => b.count)).toEqual([SIGN_IN_MAX]);
  });

  it("TRUSTED_PROXIES=127.0.0.1: the hop left of the trusted proxy is the client; each client has its own bucket; a spoofed left-most value does not help", async () => {
    const [a, b] = [clientAddress(), clientAddress()];
    const statuses: number[] = [];
    for (let i = 0; i <= SIGN_IN_MAX; i++) {
      // What a client writes itself stays on the left; the proxy appended `a`.
      const spoofed = `10.9.${i}.${randomInt(1, 255)}`;
      statuses.push(await badSignIn(behindProxy, "127.0.0.1", `${spoofed}, ${a}, 127.0.0.1`));
    }
    expect(statuses).toEqual(limited(SIGN_IN_MAX + 1));
    // Another client behind the same proxy (one hop, or two trusted ones) is not affected.
    expect(await badSignIn(behindProxy, "127.0.0.1", `${b}, 127.0.0.1`)).toBe(401);
    expect(await badSignIn(behindProxy, "127.0.0.1", b)).toBe(401);
    const counts = async (ip: string) =>
      (await prisma.staffRateLimit.findMany({ where: { key: { startsWith: `${ip}|` } } })).map((r) => r.count);
    expect(await counts(a)).toEqual([SIGN_IN_MAX]);
    expect(await counts(b)).toEqual([2]);
  });

  it("without our server in front, an address the client writes in x-billing-client-ip (even with a made-up seal) is ignored: its attempts share one bucket", async () => {
    const statuses: number[] = [];
    const spoofed: string[] = [];
    for (let i = 0; i < SIGN_IN_MAX + 2; i++) {
      spoofed.push(clientAddress());
      const headers = { "x-billing-client-ip": spoofed[i] as string, "x-billing-client-ip-seal": `guess-${i}` };
      statuses.push(await badSignIn(unstamped, loopbackPeer(), undefined, headers));
    }
    // Had the header been believed, every attempt would have had a fresh bucket (all 401).
    expect(statuses.at(-1)).toBe(429);
    const believed = await prisma.staffRateLimit.findMany({ where: { OR: spoofed.map((ip) => ({ key: { startsWith: `${ip}|` } })) } });
    expect(believed).toEqual([]);
    // The one shared bucket better-auth falls back to without an address (under NODE_ENV=test, "127.0.0.1").
    const shared = await prisma.staffRateLimit.findMany({
      where: { key: { in: ["127.0.0.1|/sign-in/email", "no-trusted-ip|/sign-in/email"] } },
    });
    expect(shared.map((b) => b.count)).toEqual([expect.any(Number)]);
  });
});
