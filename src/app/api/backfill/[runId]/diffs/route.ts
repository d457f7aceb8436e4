import { readDiffFilter } from "@/app/backfill/filters";
import { runIdSchema } from "@/server/billing/backfill/dashboard-schemas";
import { diffCsvStream } from "@/server/billing/backfill/diff-export";
import { isBillingError } from "@/server/billing/errors";
import { prisma } from "@/server/db/client";

import { csvResponse, refuseUnlessStaff } from "../../../_lib/staff-csv";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * GET /api/backfill/<runId>/diffs?metric=…&kind=…&org=… — one run's diff report, filtered
 * like the run page, as CSV (any signed-in member of staff: the report holds counts, not
 * secrets). Streamed page by page, so memory stays flat for any report size.
 */
export async function GET(request: Request, { params }: { params: Promise<{ runId: string }> }): Promise<Response> {
  const refused = await refuseUnlessStaff(request, "viewer", "The diff report");
  if (refused) return refused;
  const runId = runIdSchema.safeParse((await params).runId);
  if (!runId.success) return Response.json({ error: "Not a backfill run id" }, { status: 400 });
  const { filter, problems } = readDiffFilter(Object.fromEntries(new URL(request.url).searchParams));
  if (problems.length) return Response.json({ error: "Invalid filter", problems }, { status: 400 });
  let body: ReadableStream<Uint8Array>;
  try {
    body = await diffCsvStream(prisma(), runId.data, filter);
  } catch (error) {
    if (isBillingError(error) && error.code === "NOT_FOUND") return Response.json({ error: error.message }, { status: 404 });
    throw error;
  }
  return csvResponse(body, `backfill-${runId.data}-diffs.csv`);
}
