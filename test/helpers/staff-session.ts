import { randomInt } from "node:crypto";

import { expect } from "vitest";

import { staffAuth, type StaffRole } from "@/server/auth";
import { StaffService } from "@/server/auth/staff";
import type { PrismaClient } from "@/server/db/client";

import { uniqueSuffix } from "./db";

// Sessions are signed with this secret. Set before the first staffAuth() (it is read then):
// unset, auth would generate one into `.data/auth-secret` of the checkout.
process.env.BETTER_AUTH_SECRET ??= "vitest-staff-auth-secret-0123456789abcdef";

export const STAFF_PASSWORD = "correct horse battery";

/** The `name=value` pairs of a response's Set-Cookie headers, as a request Cookie header. */
export function cookieHeader(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

/**
 * A client address from 198.18.0.0/15 (reserved for tests). Sign-in is rate-limited per
 * client IP in the database every test file of the run shares, so each sign-in comes from
 * its own client unless the test names one.
 */
export function testClientIp(): string {
  return `198.18.${randomInt(256)}.${randomInt(1, 255)}`;
}

export interface SignInOptions {
  /** `x-forwarded-for`; default: a fresh test address. */
  ip?: string;
  /** The `Origin` header a browser sends; default: the server's own (a same-origin form post). */
  origin?: string;
}

/** POST /api/auth/sign-in/email on a route server (`origin` = its http://127.0.0.1:port), as the sign-in page does. */
export function signInOverHttp(
  serverOrigin: string,
  email: string,
  password = STAFF_PASSWORD,
  options: SignInOptions = {},
): Promise<Response> {
  return fetch(`${serverOrigin}/api/auth/sign-in/email`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      origin: options.origin ?? serverOrigin,
      "x-forwarded-for": options.ip ?? testClientIp(),
    },
    body: JSON.stringify({ email, password }),
  });
}

export interface SignedInStaff {
  id: string;
  email: string;
  /** The session cookie(s) the sign-in route set, as a Cookie header. */
  cookie: string;
}

/** A new member of staff with `role`, signed in through the real sign-in route. */
export async function signedInStaff(prisma: PrismaClient, serverOrigin: string, role: StaffRole): Promise<SignedInStaff> {
  const email = `${role}-${uniqueSuffix()}@staff.test`;
  const { staff } = await new StaffService(prisma, staffAuth(prisma)).create({ email, role, password: STAFF_PASSWORD }, "vitest");
  const response = await signInOverHttp(serverOrigin, email);
  expect(response.status, `sign-in of ${email}`).toBe(200);
  return { id: staff.id, email, cookie: cookieHeader(response) };
}
