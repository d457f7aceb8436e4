import { readLedgerFilter } from "@/app/ledger/filters";
import { ledgerCsvStream } from "@/server/billing/ledger-export";
import { db } from "@/server/db/client";

import { csvResponse, refuseUnlessStaff } from "../../_lib/staff-csv";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * GET /api/ledger/export?org=…&metric=…&reason=…&actor=…&from=…&to=… — the whole filtered
 * range as CSV (finance role), streamed from a database cursor: memory stays flat for any
 * number of rows.
 */
export async function GET(request: Request): Promise<Response> {
  const refused = await refuseUnlessStaff(request, "finance", "Exporting the ledger");
  if (refused) return refused;
  const { filter, problems } = readLedgerFilter(Object.fromEntries(new URL(request.url).searchParams));
  if (problems.length) return Response.json({ error: "Invalid filter", problems }, { status: 400 });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return csvResponse(ledgerCsvStream(db().pool, filter), `ledger-${stamp}.csv`);
}
