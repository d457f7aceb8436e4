import { getStaffSession, roleAtLeast } from "@/server/auth";
import { ledgerCsvStream } from "@/server/billing/ledger-history";
import { db } from "@/server/db/client";
import { readLedgerFilter } from "@/app/ledger/filters";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * GET /api/ledger/export?org=…&metric=…&reason=…&actor=…&from=…&to=… — the whole filtered
 * range as CSV (finance role), streamed from a database cursor: memory stays flat for any
 * number of rows.
 */
export async function GET(request: Request): Promise<Response> {
  const session = await getStaffSession(request.headers);
  if (!session) return Response.json({ error: "Sign in to continue" }, { status: 401 });
  if (!roleAtLeast(session.user.role, "finance")) {
    return Response.json({ error: `Exporting the ledger needs the finance role; you are ${session.user.role}` }, { status: 403 });
  }
  const { filter, problems } = readLedgerFilter(Object.fromEntries(new URL(request.url).searchParams));
  if (problems.length) return Response.json({ error: "Invalid filter", problems }, { status: 400 });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return new Response(ledgerCsvStream(db().pool, filter), {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="ledger-${stamp}.csv"`,
      "cache-control": "no-store",
    },
  });
}
