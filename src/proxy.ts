import { getSessionCookie } from "better-auth/cookies";
import { NextResponse, type NextRequest } from "next/server";

/**
 * Next 16's request proxy (formerly `middleware.ts`): a cheap first gate for dashboard pages.
 * No session cookie → redirect to /sign-in?next=<where they were going>. It only looks for
 * the cookie; the real check (signature, expiry, role) is the root layout's server-side
 * `getStaffSession` and, for data, every procedure's `staffProcedure(role)`.
 *
 * It also passes the requested path to the layout (`x-billing-path`), which redirects an
 * expired or revoked session the same way.
 */
export function proxy(request: NextRequest) {
  const { pathname, search } = request.nextUrl;
  const isSignIn = pathname === "/sign-in";
  if (!isSignIn && !getSessionCookie(request, { cookiePrefix: "billing" })) {
    const target = new URL("/sign-in", request.url);
    if (pathname !== "/") target.searchParams.set("next", `${pathname}${search}`);
    return NextResponse.redirect(target);
  }
  const headers = new Headers(request.headers);
  headers.set("x-billing-path", `${pathname}${search}`);
  return NextResponse.next({ request: { headers } });
}

export const config = {
  // Pages only: not the APIs (they answer 401/403 themselves), Next's assets or files.
  matcher: ["/((?!api/|_next/|favicon\\.ico|robots\\.txt|.*\\.[a-z0-9]+$).*)"],
};
