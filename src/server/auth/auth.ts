import "server-only"; // staff auth: secrets and sessions: a client component importing this fails the build

import { betterAuth } from "better-auth";
import { prismaAdapter } from "better-auth/adapters/prisma";

import type { PrismaClient } from "@/server/db/client";
import { CLIENT_IP_HEADER } from "@/server/http/client-ip";

import { authSecret } from "./secret";

/** Sessions last 8 hours and slide: a session used after an hour is extended to 8 h again. */
export const SESSION_EXPIRES_IN_S = 8 * 60 * 60;
export const SESSION_UPDATE_AGE_S = 60 * 60;
/** Sign-in attempts per client IP (per path) and window; the 6th within a minute gets 429. */
export const SIGN_IN_WINDOW_S = 60;
export const SIGN_IN_MAX = Number(process.env.STAFF_SIGN_IN_MAX_PER_MINUTE) || 5;
export const COOKIE_PREFIX = "billing";

export interface StaffAuthOptions {
  /** Default: BETTER_AUTH_SECRET, else the generated one in `.data/auth-secret`. */
  secret?: string;
  /** Default: BETTER_AUTH_URL, else the origin of each request. Its scheme decides Secure cookies. */
  baseURL?: string;
}

/**
 * The better-auth instance over one Prisma client. Email + password only, public sign-up
 * disabled (staff are created by `npm run create-staff` and by admins), sessions and
 * rate-limit buckets in PostgreSQL, `role` stored on the user and never accepted as input.
 */
export function createStaffAuth(client: PrismaClient, options: StaffAuthOptions = {}) {
  const baseURL = options.baseURL ?? (process.env.BETTER_AUTH_URL || undefined);
  return betterAuth({
    appName: "Ledger & Policy billing",
    secret: options.secret ?? authSecret(),
    baseURL,
    basePath: "/api/auth",
    // CSRF: better-auth refuses a cookie-carrying or sign-in POST whose Origin is not trusted.
    // Trusted: BETTER_AUTH_URL's origin when set, and the origin the request was addressed to
    // (its Host), i.e. same-origin requests; a page on another site never matches.
    trustedOrigins: (request) => {
      const origins = baseURL ? [new URL(baseURL).origin] : [];
      if (request) {
        const url = new URL(request.url);
        const host = request.headers.get("host") || url.host;
        const protocol = request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim() || url.protocol.replace(":", "");
        origins.push(`${protocol}://${host}`);
      }
      return origins;
    },
    database: prismaAdapter(client, { provider: "postgresql" }),
    emailAndPassword: {
      enabled: true,
      disableSignUp: true,
      minPasswordLength: 10,
      maxPasswordLength: 128,
    },
    user: {
      modelName: "staffUser",
      additionalFields: {
        role: { type: "string", required: false, defaultValue: "viewer", input: false },
      },
    },
    session: {
      modelName: "staffSession",
      expiresIn: SESSION_EXPIRES_IN_S,
      updateAge: SESSION_UPDATE_AGE_S,
    },
    account: { modelName: "staffAccount" },
    verification: { modelName: "staffVerification" },
    rateLimit: {
      // On in every environment (better-auth's default is production only), and in the
      // database so the count holds across processes and restarts.
      enabled: true,
      storage: "database",
      modelName: "staffRateLimit",
      window: 60,
      max: 100,
      customRules: {
        "/sign-in/email": { window: SIGN_IN_WINDOW_S, max: SIGN_IN_MAX },
        // Read on every page navigation (it slides the session): no bucket row per call.
        "/get-session": false,
      },
    },
    advanced: {
      cookiePrefix: COOKIE_PREFIX,
      // The client's address for the sign-in rate limit and the session: only the header our
      // server in front of Next stamps from the socket (and TRUSTED_PROXIES), never the
      // client's X-Forwarded-For (src/server/http/client-ip.ts says why).
      ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] },
      // better-auth skips its Origin (CSRF) check under NODE_ENV=test; keep it on everywhere.
      disableOriginCheck: false,
      // Secure (and `__Secure-` prefixed) cookies exactly when the public URL is https. Unset,
      // better-auth would make them Secure whenever NODE_ENV=production, which `next start`
      // sets, so a dashboard on http://<lan-ip>:3000 set cookies its browser never sends back.
      // Without BETTER_AUTH_URL they are not Secure: the request's scheme cannot decide it
      // safely (X-Forwarded-Proto is the client's to write unless a trusted proxy set it, and
      // better-auth fixes the cookie names once per instance, not per request).
      useSecureCookies: baseURL?.startsWith("https://") ?? false,
    },
    telemetry: { enabled: false },
  });
}

export type StaffAuth = ReturnType<typeof createStaffAuth>;
