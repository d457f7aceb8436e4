import { beforeAll, describe, expect, it } from "vitest";

import { staffAuth } from "@/server/auth";
import { SIGN_IN_MAX } from "@/server/auth/auth";

import { testDatabase, uniqueSuffix } from "../helpers/db";
import { routeServerForFile } from "../helpers/route-server";
import { cookieHeader, signedInStaff, signInOverHttp, STAFF_PASSWORD, testClientIp, type SignedInStaff } from "../helpers/staff-session";

/** Staff sign-in through the real /api/auth route over HTTP, as the sign-in page posts it. */
const { prisma } = testDatabase();
const server = await routeServerForFile();
let viewer: SignedInStaff;
beforeAll(async () => {
  viewer = await signedInStaff(prisma, server.origin, "viewer");
});

/** A POST to another /api/auth endpoint from the dashboard's own origin. */
function authPost(path: string, body: object, cookie?: string): Promise<Response> {
  return fetch(`${server.origin}/api/auth/${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      origin: server.origin,
      "x-forwarded-for": testClientIp(),
      ...(cookie ? { cookie } : {}),
    },
    body: JSON.stringify(body),
  });
}

describe("sign-in over HTTP", () => {
  it("refuses a wrong password and an unknown email the same way; public sign-up is disabled", async () => {
    const wrong = await signInOverHttp(server.origin, viewer.email, "not the password");
    const unknown = await signInOverHttp(server.origin, `nobody-${uniqueSuffix()}@staff.test`, "not the password");
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(((await wrong.json()) as { code: string }).code).toBe("INVALID_EMAIL_OR_PASSWORD");
    expect(((await unknown.json()) as { code: string }).code).toBe("INVALID_EMAIL_OR_PASSWORD");
    expect(wrong.headers.getSetCookie()).toEqual([]);

    const email = `self-${uniqueSuffix()}@staff.test`;
    const signUp = await authPost("sign-up/email", { email, password: STAFF_PASSWORD, name: "Self" });
    expect(signUp.status).toBe(400);
    expect(await prisma.staffUser.count({ where: { email } })).toBe(0);
  });

  it("refuses a sign-in POSTed from another site (CSRF: Origin must be the dashboard's own)", async () => {
    const evil = await signInOverHttp(server.origin, viewer.email, STAFF_PASSWORD, { origin: "https://evil.example" });
    expect(evil.status).toBe(403);
    expect(evil.headers.getSetCookie()).toEqual([]);
    expect((await signInOverHttp(server.origin, viewer.email)).status).toBe(200);
  });

  it("never takes a role from input, and stores only a hash of the password", async () => {
    const finance = await signedInStaff(prisma, server.origin, "finance");
    const account = await prisma.staffAccount.findFirstOrThrow({ where: { userId: finance.id, providerId: "credential" } });
    expect(account.password).not.toContain(STAFF_PASSWORD);
    expect(account.password?.length).toBeGreaterThan(40);
    // update-user ignores or refuses `role` (an `input: false` field): the role stays finance.
    await authPost("update-user", { role: "admin" }, finance.cookie);
    expect((await prisma.staffUser.findUniqueOrThrow({ where: { id: finance.id } })).role).toBe("finance");
    // …while the same route does change what a user may change, so the session was accepted.
    expect((await authPost("update-user", { name: "Renamed" }, finance.cookie)).status).toBe(200);
    expect((await prisma.staffUser.findUniqueOrThrow({ where: { id: finance.id } })).name).toBe("Renamed");
  });

  it("session cookies are httpOnly, SameSite=Lax, and last 8 hours (sliding)", async () => {
    const response = await signInOverHttp(server.origin, viewer.email);
    expect(response.status).toBe(200);
    const token = response.headers.getSetCookie().find((c) => c.startsWith("billing.session_token="));
    expect(token).toMatch(/HttpOnly/i);
    expect(token).toMatch(/SameSite=Lax/i);
    expect(token).toMatch(/Max-Age=28800/);
    const session = await prisma.staffSession.findFirstOrThrow({ where: { userId: viewer.id }, orderBy: { createdAt: "desc" } });
    expect(session.expiresAt.getTime() - Date.now()).toBeGreaterThan(7.9 * 3600_000);
    // The cookie is a session the app accepts.
    const me = await staffAuth(prisma).api.getSession({ headers: new Headers({ cookie: cookieHeader(response) }) });
    expect(me?.user.email).toBe(viewer.email);
  });

  it(`rate-limits sign-in: attempt ${SIGN_IN_MAX + 1} from one client within a minute gets 429, counted in the database`, async () => {
    const ip = testClientIp();
    const statuses: number[] = [];
    for (let i = 0; i <= SIGN_IN_MAX; i++)
      statuses.push((await signInOverHttp(server.origin, viewer.email, "wrong password!", { ip })).status);
    expect(statuses).toEqual([...Array<number>(SIGN_IN_MAX).fill(401), 429]);
    // The bucket is a row in staff_rate_limits, so every process of the dashboard shares it.
    const rows = await prisma.staffRateLimit.findMany({ where: { key: { contains: ip } } });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.count).toBe(SIGN_IN_MAX);
    // Even the right password is refused while the limit holds; another client is not.
    expect((await signInOverHttp(server.origin, viewer.email, STAFF_PASSWORD, { ip })).status).toBe(429);
    expect((await signInOverHttp(server.origin, viewer.email)).status).toBe(200);
  });
});
