import { randomInt } from "node:crypto";

import { beforeAll, describe, expect, it, vi } from "vitest";

// As under `next start`, which sets NODE_ENV=production: better-auth's own default makes
// cookies Secure in production, whatever the scheme. Set before better-auth is loaded (it
// reads NODE_ENV once, on import).
Object.assign(process.env, { NODE_ENV: "production" });
process.env.BETTER_AUTH_SECRET ??= "vitest-session-cookie-secret-0123456789abcd";

const { StaffService } = await import("@/server/auth/staff");
const { createStaffAuth } = await import("@/server/auth/auth");
const { testDatabase, uniqueSuffix } = await import("../helpers/db");

// The session cookie over real HTTP, per BETTER_AUTH_URL: Secure and `__Secure-` prefixed
// exactly when the public URL is https; on http, or unset (no safe way to know the scheme),
// a plain cookie that a browser on http://<lan-ip>:3000 sends back.

const { prisma } = testDatabase();
const PASSWORD = "correct horse battery";
const email = `cookie-${uniqueSuffix()}@staff.test`;
// Each case loads the whole route graph afresh (tens of seconds on a busy 2-core box).
const CASE_TIMEOUT_MS = 180_000;

beforeAll(async () => {
  await new StaffService(prisma, createStaffAuth(prisma, { baseURL: "http://localhost" })).create(
    { email, role: "viewer", password: PASSWORD },
    "vitest",
  );
});

/** Signs in over HTTP through the real routes as configured by `betterAuthUrl`; returns the session cookie and what get-session says with it. */
async function signIn(betterAuthUrl: string | undefined) {
  if (betterAuthUrl === undefined) delete process.env.BETTER_AUTH_URL;
  else process.env.BETTER_AUTH_URL = betterAuthUrl;
  // The routes' auth instance reads BETTER_AUTH_URL once: a fresh module graph per case.
  vi.resetModules();
  const { requestFrom, startRouteServer } = await import("../helpers/route-server");
  const server = await startRouteServer({ trustedProxies: "" });
  try {
    // A loopback peer of its own: no other file's sign-ins share its rate-limit bucket.
    const peer = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    const response = await requestFrom(peer, `${server.origin}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.origin },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(response.status, response.body).toBe(200);
    const cookie = response.headers.getSetCookie().find((c) => /^(__Secure-)?billing\.session_token=/.test(c)) ?? "";
    const session = await requestFrom(peer, `${server.origin}/api/auth/get-session`, {
      headers: { cookie: cookie.split(";")[0] as string },
    });
    return { cookie, sessionEmail: (JSON.parse(session.body) as { user?: { email: string } } | null)?.user?.email };
  } finally {
    await server.close();
  }
}

describe("staff session cookie", () => {
  it(
    "is Secure and __Secure- prefixed when BETTER_AUTH_URL is https",
    async () => {
      const { cookie, sessionEmail } = await signIn("https://billing.example.test");
      expect(cookie).toMatch(/^__Secure-billing\.session_token=/);
      expect(cookie).toMatch(/;\s*Secure(;|$)/i);
      expect(sessionEmail).toBe(email);
    },
    CASE_TIMEOUT_MS,
  );

  it.each([
    ["http", "http://192.0.2.10:3000"],
    ["unset", undefined],
  ])(
    "is neither Secure nor prefixed when BETTER_AUTH_URL is %s (even with NODE_ENV=production)",
    async (_, url) => {
      const { cookie, sessionEmail } = await signIn(url);
      expect(cookie).toMatch(/^billing\.session_token=/);
      expect(cookie).not.toMatch(/;\s*Secure(;|$)/i);
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Lax/i);
      expect(sessionEmail).toBe(email);
    },
    CASE_TIMEOUT_MS,
  );
});
