import { getStaffSession, roleAtLeast, type StaffRole } from "@/server/auth";

/**
 * The CSV download routes (they stream, so they are route handlers, not tRPC): the same
 * staff check as `staffProcedure(minRole)` and the same response headers.
 */

/** A 401/403 response when the request's staff session is missing or below `minRole`; null when allowed. */
export async function refuseUnlessStaff(request: Request, minRole: StaffRole, what: string): Promise<Response | null> {
  const session = await getStaffSession(request.headers);
  if (!session) return Response.json({ error: "Sign in to continue" }, { status: 401 });
  if (!roleAtLeast(session.user.role, minRole)) {
    return Response.json({ error: `${what} needs the ${minRole} role; you are ${session.user.role}` }, { status: 403 });
  }
  return null;
}

/** A streamed CSV attachment that no cache keeps. */
export function csvResponse(body: ReadableStream<Uint8Array>, filename: string): Response {
  return new Response(body, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${filename}"`,
      "cache-control": "no-store",
    },
  });
}
